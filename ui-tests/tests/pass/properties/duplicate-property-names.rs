// The fix for `duplicate-property-names`: one name per property.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(name = "baud")]
    baud_rate: Prop<u32>,
    #[property(name = "baud-max")]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    uart.set_property("baud", "9600").unwrap();
    uart.set_property("baud-max", "115200").unwrap();
    assert_eq!(uart.baud_rate.get(), 9600);
    assert_eq!(uart.baud.get(), 115_200);
}

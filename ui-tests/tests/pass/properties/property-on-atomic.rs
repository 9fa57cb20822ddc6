// The fix for `property-on-atomic`: a `Prop<u32>`, not an atomic (it is already thread safe).
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(default = 115_200)]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    assert_eq!(uart.baud.get(), 115_200);
    uart.set_property("baud", "9600").unwrap();
    assert_eq!(uart.baud.get(), 9600);
}

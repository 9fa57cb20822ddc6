// The fix for `assign-property-field`: `Prop::set` (or, from outside the
// model, `set_property`, which parses and checks).
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(default = 9600)]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    uart.baud.set(115_200);
    assert_eq!(uart.baud.get(), 115_200);
    uart.set_property("baud", "38400").unwrap();
    assert_eq!(uart.baud.get(), 38_400);
}

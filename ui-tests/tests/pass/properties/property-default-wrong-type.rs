// The fix for `property-default-wrong-type`: a default of the property's
// type (strings are parsed only from the command line and `set_property`).
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(default = 115_200)]
    baud: Prop<u32>,
    #[property(default = "uart0")]
    label: Prop<String>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    assert_eq!(uart.get_property("baud").unwrap(), "115200");
    assert_eq!(uart.label.get(), "uart0");
}

// The fix for `child-and-property`: a property (the value), not a child.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    assert_eq!(uart.baud.get(), 0);
}

// The fix for `enum-object`: an object is a struct; the variants become a
// property of an enum type (`qom_rt::property_enum!`) or one object type
// each. Here, one subtype per variant of an abstract parent.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(abstract)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Uart>,
}
impl ObjectImpl for Pl011 {}

#[derive(QomObject)]
pub struct Ns16550 {
    parent: ParentField<Uart>,
}
impl ObjectImpl for Ns16550 {}

fn main() {
    let uart: Owned<Uart> = Owned::<Pl011>::new().upcast_owned();
    assert!(uart.downcast::<Pl011>().is_some());
    assert!(uart.downcast::<Ns16550>().is_none());
}

use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let any: Owned<Object> = Owned::<Pl011>::new().into_object();
    let uart = any.downcast::<Owned<Pl011>>();
    assert!(uart.is_some());
}

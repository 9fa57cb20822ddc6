// The fix for `downcast-to-owned`: downcast to the object type; for a new
// strong reference, `downcast_owned` (or `Owned::from` on the result).
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let any: Owned<Object> = Owned::<Pl011>::new().into_object();
    let uart: Option<Owned<Pl011>> = any.downcast::<Pl011>().map(Owned::from);
    assert!(uart.is_some());
    let uart: Owned<Pl011> = any.downcast_owned().ok().unwrap();
    assert_eq!(uart.type_name(), "pl011");
}

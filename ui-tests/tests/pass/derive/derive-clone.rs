// The fix for `derive-clone`: share the object by cloning its `Owned`, a
// new reference to the same object, not a copy of it.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

fn main() {
    let uart = Owned::<Uart>::new();
    let shared = uart.clone();
    assert!(Owned::ptr_eq(&uart, &shared));
}

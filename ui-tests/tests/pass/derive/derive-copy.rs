// The fix for `derive-copy`: no `Copy` (nor `Clone`); clone the `Owned`,
// a new reference to the same object.
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

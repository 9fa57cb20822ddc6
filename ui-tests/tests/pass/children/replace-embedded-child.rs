// The fix for `replace-embedded-child`: to replace a child, hold it as an
// owned child behind a lock and swap the `Owned` (a reference), or keep
// the embedded child and reset its state.
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
}
impl ObjectImpl for Xhci {}

#[derive(QomObject)]
pub struct XhciPci {
    parent: ParentField<Object>,
    #[child(embedded)]
    xhci: Xhci,
    spare: Mutex<Option<Owned<Xhci>>>,
}
impl ObjectImpl for XhciPci {}

fn main() {
    let dev = Owned::<XhciPci>::new();
    let other = Owned::<XhciPci>::new();
    let old = dev.spare.lock().unwrap().replace(Owned::from(&other.xhci));
    assert!(old.is_none());
    drop(other);
    assert!(dev.spare.lock().unwrap().is_some());
}

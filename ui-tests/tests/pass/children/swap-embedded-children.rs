// The fix for `swap-embedded-children`: children stay where they were
// born; what changes is state behind interior mutability (here, which
// controller is active).
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
    active: AtomicBool,
}
impl ObjectImpl for Xhci {}

#[derive(QomObject)]
pub struct XhciPci {
    parent: ParentField<Object>,
    #[child(embedded)]
    xhci: Xhci,
}
impl ObjectImpl for XhciPci {}

fn main() {
    let a = Owned::<XhciPci>::new();
    let b = Owned::<XhciPci>::new();
    a.xhci.active.store(true, Ordering::Relaxed);
    let was = a.xhci.active.swap(false, Ordering::Relaxed);
    b.xhci.active.store(was, Ordering::Relaxed);
    assert!(b.xhci.active.load(Ordering::Relaxed));
}

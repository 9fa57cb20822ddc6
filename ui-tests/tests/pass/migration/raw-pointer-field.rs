// The fix for `raw-pointer-field`: migrate the guest address the pointer
// stands for, and rebuild the pointer (if any) after the load.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
    #[migrate]
    ring_address: AtomicU64,
}
impl ObjectImpl for Xhci {}
impl MigrationHooks for Xhci {}

fn main() {
    let source = Owned::<Xhci>::new();
    source.ring_address.store(0x1000, Ordering::Relaxed);
    let stream = qom_rt::migration::save(&source).unwrap();
    let destination = Owned::<Xhci>::new();
    qom_rt::migration::load(&destination, &stream).unwrap();
    assert_eq!(destination.ring_address.load(Ordering::Relaxed), 0x1000);
}

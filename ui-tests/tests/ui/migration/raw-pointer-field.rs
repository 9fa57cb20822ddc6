use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicPtr;

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
    #[migrate]
    ring: AtomicPtr<u8>,
}
impl ObjectImpl for Xhci {}
impl MigrationHooks for Xhci {}

fn main() {}

// The fix for `missing-migration-hooks`: say what the hooks are (empty
// takes the defaults).
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {
    assert!(qom_rt::migration::description(Timer::TYPE_INFO).is_some());
}

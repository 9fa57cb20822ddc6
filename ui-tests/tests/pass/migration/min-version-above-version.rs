// The fix for `min-version-above-version`: a type loads versions up to
// its own.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
#[migrate(version = 3, min_version = 3)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {
    let state = qom_rt::migration::description(Timer::TYPE_INFO).unwrap();
    assert_eq!((state.version(), state.min_version()), (3, 3));
}

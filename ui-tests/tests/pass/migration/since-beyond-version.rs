// The fix for `since-beyond-version`: the type's state is at version 2.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
#[migrate(version = 2)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
    #[migrate(since = 2)]
    limit: AtomicU32,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {
    let state = qom_rt::migration::description(Timer::TYPE_INFO).unwrap();
    assert_eq!((state.version(), state.min_version()), (2, 1));
}

use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
#[migrate(version = 2, min_version = 3)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {}

use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    count: u32,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {}

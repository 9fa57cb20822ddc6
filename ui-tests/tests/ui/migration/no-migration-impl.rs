use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(Default)]
pub struct Regs {
    control: u32,
}

#[derive(QomObject)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    regs: Mutex<Regs>,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {}

// The fix for `no-migration-impl`: derive `VmState` for the registers.
use qom_rt::migration::{MigrationHooks, VmState};
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(Default, VmState)]
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

fn main() {
    let source = Owned::<Timer>::new();
    source.regs.lock().unwrap().control = 0xe2;
    let stream = qom_rt::migration::save(&source).unwrap();
    let destination = Owned::<Timer>::new();
    qom_rt::migration::load(&destination, &stream).unwrap();
    assert_eq!(destination.regs.lock().unwrap().control, 0xe2);
}

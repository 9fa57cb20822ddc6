// The fix for `plain-value-field`: a cell that can be restored through
// `&self`.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    count: AtomicU32,
}
impl ObjectImpl for Timer {}
impl MigrationHooks for Timer {}

fn main() {
    let source = Owned::<Timer>::new();
    source.count.store(9, Ordering::Relaxed);
    let destination = Owned::<Timer>::new();
    qom_rt::migration::load(&destination, &qom_rt::migration::save(&source).unwrap()).unwrap();
    assert_eq!(destination.count.load(Ordering::Relaxed), 9);
}

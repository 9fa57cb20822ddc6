// The fix for `owned-not-a-child`: a declared child migrates as a section
// of its own, keyed by its path.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
}
impl ObjectImpl for Uart {}
impl MigrationHooks for Uart {}

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[child(owned)]
    console: Owned<Uart>,
}
impl ObjectImpl for Board {}

fn main() {
    let source = Owned::<Board>::new();
    source.console.control.store(0x301, Ordering::Relaxed);
    let image = qom_rt::migration::save_image(&source).unwrap();
    assert_eq!(image.sections[0].path, "/console");
    let destination = Owned::<Board>::new();
    qom_rt::migration::load_image(&destination, &image).unwrap();
    assert_eq!(destination.console.control.load(Ordering::Relaxed), 0x301);
}

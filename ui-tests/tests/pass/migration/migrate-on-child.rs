// The fix for `migrate-on-child`: the child's own fields are marked; it
// migrates as a section of its own.
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

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
    #[child(embedded)]
    uart: Uart,
}
impl ObjectImpl for Board {}

fn main() {
    let image = qom_rt::migration::save_image(&Owned::<Board>::new()).unwrap();
    assert_eq!(image.sections.len(), 1);
    assert_eq!(image.sections[0].path, "/uart");
}

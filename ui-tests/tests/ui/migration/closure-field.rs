use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[migrate]
    backend: Mutex<Option<Box<dyn Fn(u8) + Send + Sync>>>,
}
impl ObjectImpl for Pl011 {}
impl MigrationHooks for Pl011 {}

fn main() {}

use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[migrate]
    console: Mutex<Option<Owned<Uart>>>,
}
impl ObjectImpl for Board {}
impl MigrationHooks for Board {}

fn main() {}

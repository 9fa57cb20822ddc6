use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
pub struct Timer {
    parent: ParentField<Object>,
    #[migrate]
    control: AtomicU32,
}
impl ObjectImpl for Timer {}

fn main() {}

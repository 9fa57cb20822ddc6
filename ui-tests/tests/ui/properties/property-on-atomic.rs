use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property]
    baud: AtomicU32,
}
impl ObjectImpl for Pl011 {}

fn main() {}

use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Pl011 {
        parent: Default::default(),
        data: AtomicU32::new(0),
    };
    drop(uart);
}

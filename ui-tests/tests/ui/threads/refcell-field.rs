use qom_rt::prelude::*;
use std::cell::RefCell;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    fifo: RefCell<Vec<u8>>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

use qom_rt::prelude::*;
use std::cell::Cell;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: Cell<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

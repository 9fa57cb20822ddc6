use qom_rt::prelude::*;
use std::rc::Rc;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    backend: Rc<String>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

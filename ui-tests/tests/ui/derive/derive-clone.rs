use qom_rt::prelude::*;

#[derive(QomObject, Clone)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

fn main() {}

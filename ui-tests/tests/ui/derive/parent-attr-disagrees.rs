use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(abstract)]
pub struct Device {
    parent: ParentField<Object>,
}
impl ObjectImpl for Device {}

#[derive(QomObject)]
#[qom(name = "pl011", parent = Device)]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

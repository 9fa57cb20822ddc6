use qom_rt::prelude::*;

pub struct Device;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Device>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

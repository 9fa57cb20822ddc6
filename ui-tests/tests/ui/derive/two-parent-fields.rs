use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Device {
    parent: ParentField<Object>,
}
impl ObjectImpl for Device {}

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
    device: ParentField<Device>,
}
impl ObjectImpl for Uart {}

fn main() {}

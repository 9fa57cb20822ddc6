use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(abstract)]
pub struct Device {
    parent: ParentField<Object>,
}
impl ObjectImpl for Device {}

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Device>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let dev: Owned<Device> = Owned::<Pl011>::new().upcast_owned();
    let uart: Owned<Pl011> = dev.upcast_owned();
    drop(uart);
}

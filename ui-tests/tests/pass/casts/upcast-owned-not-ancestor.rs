// The fix for `upcast-owned-not-ancestor`: from a parent to a subtype is
// `downcast_owned`, which gives the reference back if the object is not one.
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
    let uart: Owned<Pl011> = dev.downcast_owned().ok().unwrap();
    assert_eq!(uart.type_name(), "pl011");
}

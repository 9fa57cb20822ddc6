// The fix for `parent-not-an-object`: the parent is itself an object type.
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
    assert!(Owned::<Pl011>::new().is_a::<Device>());
}

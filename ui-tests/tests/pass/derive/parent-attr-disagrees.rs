// The fix for `parent-attr-disagrees`: `#[qom(parent = ...)]` names the
// type of the `ParentField` (or is left out: it is optional).
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
    parent: ParentField<Device>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    assert!(Owned::<Pl011>::new().is_a::<Device>());
}

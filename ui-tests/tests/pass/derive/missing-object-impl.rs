// The fix for `missing-object-impl`: every object type has its instance
// hooks, even empty ones.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    assert_eq!(Owned::<Pl011>::new().type_name(), "pl011");
}

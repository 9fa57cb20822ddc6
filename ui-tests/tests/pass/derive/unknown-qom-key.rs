// The fix for `unknown-qom-key`: `name`, as suggested.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "pl011")]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    assert_eq!(Owned::<Pl011>::new().type_name(), "pl011");
}

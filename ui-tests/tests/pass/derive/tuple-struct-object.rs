// The fix for `tuple-struct-object`: named fields, the parent first.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

fn main() {
    assert_eq!(Owned::<Uart>::new().type_name(), "uart");
}

// The fix for `child-without-kind`: say `embedded` or `owned`.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uhci {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uhci {}

#[derive(QomObject)]
pub struct SouthBridge {
    parent: ParentField<Object>,
    #[child(embedded)]
    uhci: Uhci,
}
impl ObjectImpl for SouthBridge {}

fn main() {
    let sb = Owned::<SouthBridge>::new();
    assert_eq!(sb.uhci.type_name(), "uhci");
}

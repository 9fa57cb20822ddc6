// The fix for `embedded-box`: embed the object itself (or hold it with
// `#[child(owned)] uhci: Owned<Uhci>`, see `owned-on-value`).
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
    let uhci: Owned<Uhci> = Owned::from(&sb.uhci);
    drop(sb);
    assert_eq!(uhci.type_name(), "uhci");
}

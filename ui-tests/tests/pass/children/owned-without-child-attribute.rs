// The fix for `owned-without-child-attribute`: an owned child is `#[child(owned)]` and an
// `Owned<T>`; the container creates it.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uhci {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uhci {}

#[derive(QomObject)]
pub struct SouthBridge {
    parent: ParentField<Object>,
    #[child(owned)]
    uhci: Owned<Uhci>,
}
impl ObjectImpl for SouthBridge {}

fn main() {
    let sb = Owned::<SouthBridge>::new();
    let uhci = sb.uhci.clone();
    drop(sb);
    assert_eq!(uhci.type_name(), "uhci");
}

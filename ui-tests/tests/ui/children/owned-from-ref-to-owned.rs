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
    let uhci: Owned<Uhci> = Owned::from(&sb.uhci);
    drop(uhci);
}

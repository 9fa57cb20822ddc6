// The fix for `move-embedded-child-out`: take a reference to the child
// instead; it keeps the container's memory (not its state) alive.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
}
impl ObjectImpl for Xhci {}

#[derive(QomObject)]
pub struct XhciPci {
    parent: ParentField<Object>,
    #[child(embedded)]
    xhci: Xhci,
}
impl ObjectImpl for XhciPci {}

fn main() {
    let dev = Owned::<XhciPci>::new();
    let xhci: Owned<Xhci> = Owned::from(&dev.xhci);
    drop(dev);
    assert_eq!(xhci.type_name(), "xhci");
}

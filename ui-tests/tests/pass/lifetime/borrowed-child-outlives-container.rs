// The fix for `borrowed-child-outlives-container` (the qemu-xhci BAR 0
// use-after-free): take a strong reference on the child. It keeps the
// container's memory alive until the child is finalized; the container
// itself finalizes when unplugged and can no longer be reached.
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
    let bar0_owner: Owned<Xhci> = Owned::from(&dev.xhci);
    drop(dev); // hot-unplug
    println!("{}", bar0_owner.type_name()); // in-flight guest access
    assert!(bar0_owner.container::<XhciPci>().is_none());
}

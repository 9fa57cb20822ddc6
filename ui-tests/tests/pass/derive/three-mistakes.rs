// The fix for `three-mistakes`: all three fixed at once, as the one build
// reported all three.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
}
impl ObjectImpl for Xhci {}

#[derive(QomObject)]
#[qom(name = "xhci-pci")]
pub struct XhciPci {
    parent: ParentField<Object>,
    #[child(embedded)]
    xhci: Xhci,
}
impl ObjectImpl for XhciPci {}

fn main() {
    let dev = Owned::<XhciPci>::new();
    assert_eq!(dev.xhci.type_name(), "xhci");
}

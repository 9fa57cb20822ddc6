use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Xhci {
    parent: ParentField<Object>,
}
impl ObjectImpl for Xhci {}

#[derive(QomObject)]
#[qom(name = "xhci pci")]
pub struct XhciPci {
    #[child(embeded)]
    xhci: Xhci,
    parent: ParentField<Object>,
}
impl ObjectImpl for XhciPci {}

fn main() {}

use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "xhci pci")]
pub struct XhciPci {
    parent: ParentField<Object>,
}
impl ObjectImpl for XhciPci {}

fn main() {}

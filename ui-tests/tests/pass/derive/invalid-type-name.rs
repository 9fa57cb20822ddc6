// The fix for `invalid-type-name`: letters, digits, `-`, `_`, `.`, `,`.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "xhci-pci")]
pub struct XhciPci {
    parent: ParentField<Object>,
}
impl ObjectImpl for XhciPci {}

fn main() {
    let dev = qom_rt::new_by_name("xhci-pci").unwrap();
    assert!(dev.downcast::<XhciPci>().is_some());
}

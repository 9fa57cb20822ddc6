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

fn bar0_owner() -> &'static Xhci {
    let dev = Owned::<XhciPci>::new();
    &dev.xhci
}

fn main() {
    println!("{}", bar0_owner().type_name());
}

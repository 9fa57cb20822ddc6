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
    let a = Owned::<XhciPci>::new();
    let b = Owned::<XhciPci>::new();
    std::mem::swap(&mut a.xhci, &mut b.xhci);
}

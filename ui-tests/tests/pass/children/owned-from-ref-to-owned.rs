// The fix for `owned-from-ref-to-owned`: an owned child is already an
// `Owned`: clone it (or pass the object, `&*sb.uhci`). `Owned::from(&x)`
// is for an object you can see, such as an embedded child.
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
    #[child(embedded)]
    ehci: Uhci,
}
impl ObjectImpl for SouthBridge {}

fn main() {
    let sb = Owned::<SouthBridge>::new();
    let a: Owned<Uhci> = sb.uhci.clone();
    let b: Owned<Uhci> = Owned::from(&*sb.uhci);
    let c: Owned<Uhci> = Owned::from(&sb.ehci);
    assert!(Owned::ptr_eq(&a, &b));
    assert!(!Owned::ptr_eq(&a, &c));
}

// The fix for `borrowed-child-sent-to-thread`: move a strong reference
// into the thread; unplugging on this thread is then safe.
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
    let vcpu = std::thread::spawn(move || xhci.type_name());
    drop(dev);
    assert_eq!(vcpu.join().unwrap(), "xhci");
}

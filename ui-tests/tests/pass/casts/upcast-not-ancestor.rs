// The fix for `upcast-not-ancestor`: a cast that may fail is a
// `downcast`, checked at run time.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

#[derive(QomObject)]
pub struct Rtc {
    parent: ParentField<Object>,
}
impl ObjectImpl for Rtc {}

fn main() {
    let uart = Owned::<Pl011>::new();
    let rtc: Option<&Rtc> = uart.downcast::<Rtc>();
    assert!(rtc.is_none());
    let object: &Object = uart.upcast::<Object>();
    assert!(object.downcast::<Pl011>().is_some());
}

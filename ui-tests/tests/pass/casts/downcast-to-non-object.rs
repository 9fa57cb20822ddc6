// The fix for `downcast-to-non-object`: downcast to an object type, then
// read the value from it.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let any: Owned<Object> = Owned::<Pl011>::new().into_object();
    let n: Option<u32> = any
        .downcast::<Pl011>()
        .map(|uart| uart.data.load(Ordering::Relaxed));
    assert_eq!(n, Some(0));
}

// The fix for `parent-field-not-first`: `ParentField` moves to the top.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Uart {}

fn main() {
    let uart = Owned::<Uart>::new();
    uart.data.store(7, Ordering::Relaxed);
    assert_eq!(uart.data.load(Ordering::Relaxed), 7);
}

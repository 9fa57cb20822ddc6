// The fix for `missing-parent-field`: the parent comes first
// (`ParentField<Object>` for a direct subtype of `object`).
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
    assert_eq!(uart.data.load(Ordering::Relaxed), 0);
}

// The fix for `mut-through-owned`: objects are shared, so state changes
// through `&self` and interior mutability.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Pl011 {}

fn write_data(uart: &Pl011, value: u32) {
    uart.data.store(value, Ordering::Relaxed);
}

fn main() {
    let uart = Owned::<Pl011>::new();
    write_data(&uart, 0x41);
    assert_eq!(uart.data.load(Ordering::Relaxed), 0x41);
}

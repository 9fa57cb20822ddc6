// The fix for `cell-field`: an atomic instead of a `Cell`.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    let other = uart.clone();
    std::thread::spawn(move || other.data.store(0x41, Ordering::Relaxed))
        .join()
        .unwrap();
    assert_eq!(uart.data.load(Ordering::Relaxed), 0x41);
}

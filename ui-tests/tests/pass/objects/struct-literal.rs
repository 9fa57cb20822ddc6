// The fix for `struct-literal`: `Owned::new` builds the object; initial
// values are set in `init`.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Pl011 {
    fn init(&self) {
        self.data.store(0x30, Ordering::Relaxed);
    }
}

fn main() {
    let uart = Owned::<Pl011>::new();
    assert_eq!(uart.data.load(Ordering::Relaxed), 0x30);
}

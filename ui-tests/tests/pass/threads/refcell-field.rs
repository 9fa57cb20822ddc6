// The fix for `refcell-field`: a `Mutex` instead of a `RefCell`.
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    fifo: Mutex<Vec<u8>>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    let other = uart.clone();
    std::thread::spawn(move || other.fifo.lock().unwrap().push(0x41))
        .join()
        .unwrap();
    assert_eq!(*uart.fifo.lock().unwrap(), [0x41]);
}

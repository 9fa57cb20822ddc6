// The fix for `prop-of-non-property-type`: a buffer is device state, not
// a property: a plain field behind a `Mutex`. (A type of yours can be a
// property by implementing `qom_rt::PropertyType`.)
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    fifo: Mutex<Vec<u8>>,
    #[property(default = 16)]
    fifo_depth: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    uart.fifo.lock().unwrap().push(0x41);
    assert_eq!(uart.get_property("fifo-depth").unwrap(), "16");
}

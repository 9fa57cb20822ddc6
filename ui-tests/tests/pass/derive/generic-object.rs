// The fix for `generic-object`: one struct per QOM type; the generic part
// moves into a plain field type.
use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct ByteFifo {
    parent: ParentField<Object>,
    items: Mutex<Vec<u8>>,
}
impl ObjectImpl for ByteFifo {}

fn main() {
    let fifo = Owned::<ByteFifo>::new();
    fifo.items.lock().unwrap().push(0x41);
    assert_eq!(fifo.items.lock().unwrap().len(), 1);
}

// The fix for `embedded-non-object`: plain data is a plain field.
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    irq_level: AtomicU32,
}
impl ObjectImpl for Board {}

fn main() {
    let board = Owned::<Board>::new();
    board.irq_level.store(1, Ordering::Relaxed);
    assert_eq!(board.irq_level.load(Ordering::Relaxed), 1);
}

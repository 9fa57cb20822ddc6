// The fix for `union-object`: the union is a register's value, kept in a
// field of an object (a plain field, built with `Default`).
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(QomObject)]
pub struct Register {
    parent: ParentField<Object>,
    word: AtomicU32,
}
impl ObjectImpl for Register {}

fn main() {
    let reg = Owned::<Register>::new();
    reg.word
        .store(u32::from_le_bytes([1, 2, 3, 4]), Ordering::Relaxed);
    assert_eq!(reg.word.load(Ordering::Relaxed).to_le_bytes(), [1, 2, 3, 4]);
}

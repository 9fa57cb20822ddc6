// The fix for `rc-field`: an `Arc` instead of an `Rc`.
use qom_rt::prelude::*;
use std::sync::Arc;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    backend: Arc<String>,
}
impl ObjectImpl for Pl011 {}

fn main() {
    let uart = Owned::<Pl011>::new();
    assert!(uart.backend.is_empty());
}

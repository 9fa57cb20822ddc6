use qom_rt::prelude::*;
use std::sync::Mutex;

#[derive(QomObject)]
pub struct Fifo<T: Send + 'static> {
    parent: ParentField<Object>,
    items: Mutex<Vec<T>>,
}

fn main() {}

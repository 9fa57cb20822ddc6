use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
pub struct Uart {
    data: AtomicU32,
}

fn main() {}

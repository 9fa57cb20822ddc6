use qom_rt::prelude::*;
use std::sync::atomic::AtomicU32;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    data: AtomicU32,
}
impl ObjectImpl for Pl011 {}

fn write_data(uart: &mut Pl011, value: u32) {
    *uart.data.get_mut() = value;
}

fn main() {
    let mut uart = Owned::<Pl011>::new();
    write_data(&mut uart, 0x41);
}

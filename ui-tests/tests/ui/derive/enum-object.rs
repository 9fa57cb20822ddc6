use qom_rt::prelude::*;

#[derive(QomObject)]
pub enum Uart {
    Pl011,
    Ns16550,
}

fn main() {}

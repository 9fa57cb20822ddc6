use qom_rt::prelude::*;

#[derive(QomObject)]
pub union Register {
    word: u32,
    bytes: [u8; 4],
}

fn main() {}

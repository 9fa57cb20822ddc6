use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uart;

fn main() {}

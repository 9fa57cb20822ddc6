use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uart(ParentField<Object>);

fn main() {}

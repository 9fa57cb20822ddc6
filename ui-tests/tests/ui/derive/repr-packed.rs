use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "packed-uart")]
#[repr(C, packed)]
pub struct Uart {
    parent: ParentField<Object>,
    lsr: u8,
}
impl ObjectImpl for Uart {}

fn main() {}

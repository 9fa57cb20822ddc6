// The fix for `repr-packed`: no `packed`; `repr(C)` keeps the declared
// field order, with every field aligned.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "packed-uart")]
#[repr(C)]
pub struct Uart {
    parent: ParentField<Object>,
    lsr: u8,
}
impl ObjectImpl for Uart {}

fn main() {
    let uart = Owned::<Uart>::new();
    assert_eq!(uart.lsr, 0);
}

// The fix for `object-as-plain-field`: say how the child is held.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    uart: Uart,
    #[child(owned)]
    spare: Owned<Uart>,
}
impl ObjectImpl for Board {}

fn main() {
    let board = Owned::<Board>::new();
    assert_eq!(board.uart.type_name(), "uart");
    assert_eq!(board.spare.type_name(), "uart");
}

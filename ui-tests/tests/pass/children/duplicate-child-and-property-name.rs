// The fix for `duplicate-child-and-property-name`: one name each.
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
    #[property(name = "uart-baud", default = 115_200)]
    uart_baud: Prop<u32>,
}
impl ObjectImpl for Board {}

fn main() {
    let board = Owned::<Board>::new();
    assert_eq!(board.get_property("uart-baud").unwrap(), "115200");
}

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
    #[property(name = "uart")]
    uart_baud: Prop<u32>,
}
impl ObjectImpl for Board {}

fn main() {}

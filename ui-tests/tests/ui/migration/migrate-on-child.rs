use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
}
impl ObjectImpl for Uart {}

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[migrate]
    #[child(embedded)]
    uart: Uart,
}
impl ObjectImpl for Board {}

fn main() {}

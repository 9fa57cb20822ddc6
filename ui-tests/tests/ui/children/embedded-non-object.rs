use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    irq_level: u32,
}
impl ObjectImpl for Board {}

fn main() {}

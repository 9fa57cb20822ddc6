use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property]
    fifo: Prop<Vec<u8>>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

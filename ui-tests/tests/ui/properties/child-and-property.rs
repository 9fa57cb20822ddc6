use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[child(owned)]
    #[property]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

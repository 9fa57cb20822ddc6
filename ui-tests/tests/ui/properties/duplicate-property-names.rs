use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(name = "baud")]
    baud_rate: Prop<u32>,
    #[property]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

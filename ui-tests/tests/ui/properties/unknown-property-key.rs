use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(defualt = 115_200)]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(default = 115_200)]
    baud: u32,
}
impl ObjectImpl for Pl011 {}

fn main() {}

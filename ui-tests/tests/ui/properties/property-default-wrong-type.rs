use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Pl011 {
    parent: ParentField<Object>,
    #[property(default = "115200")]
    baud: Prop<u32>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

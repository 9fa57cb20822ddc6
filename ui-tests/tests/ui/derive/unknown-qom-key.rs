use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(nmae = "pl011")]
pub struct Pl011 {
    parent: ParentField<Object>,
}
impl ObjectImpl for Pl011 {}

fn main() {}

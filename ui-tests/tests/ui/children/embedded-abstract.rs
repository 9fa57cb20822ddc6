use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(abstract)]
pub struct BusDevice {
    parent: ParentField<Object>,
}
impl ObjectImpl for BusDevice {}

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    dev: BusDevice,
}
impl ObjectImpl for Board {}

fn main() {}

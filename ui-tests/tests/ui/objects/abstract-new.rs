use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(abstract)]
pub struct BusDevice {
    parent: ParentField<Object>,
}
impl ObjectImpl for BusDevice {}

fn main() {
    let dev = Owned::<BusDevice>::new();
    drop(dev);
}

// The fix for `embedded-abstract`: embed a concrete subtype.
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(abstract)]
pub struct BusDevice {
    parent: ParentField<Object>,
}
impl ObjectImpl for BusDevice {}

#[derive(QomObject)]
pub struct Rtc {
    parent: ParentField<BusDevice>,
}
impl ObjectImpl for Rtc {}

#[derive(QomObject)]
pub struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    dev: Rtc,
}
impl ObjectImpl for Board {}

fn main() {
    let board = Owned::<Board>::new();
    let dev: &BusDevice = board.dev.upcast();
    assert_eq!(dev.type_name(), "rtc");
}

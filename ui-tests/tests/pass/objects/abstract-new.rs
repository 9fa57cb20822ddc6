// The fix for `abstract-new`: instantiate a concrete subtype, then upcast.
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

fn main() {
    let dev: Owned<BusDevice> = Owned::<Rtc>::new().upcast_owned();
    assert_eq!(dev.type_name(), "rtc");
    assert!(qom_rt::new_by_name("bus-device").is_err());
}

// The fix for `two-parent-fields`: single inheritance; the second
// "parent" becomes an embedded child.
use qom_rt::prelude::*;

#[derive(QomObject)]
pub struct Device {
    parent: ParentField<Object>,
}
impl ObjectImpl for Device {}

#[derive(QomObject)]
pub struct Uart {
    parent: ParentField<Object>,
    #[child(embedded)]
    device: Device,
}
impl ObjectImpl for Uart {}

fn main() {
    let uart = Owned::<Uart>::new();
    assert_eq!(uart.device.type_name(), "device");
}

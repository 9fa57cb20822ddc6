use qom_rt::prelude::*;

/// Something that can be unplugged while the machine runs.
#[qom_rt::interface]
pub trait HotplugHandler {
    /// Called before the device goes.
    fn unplug_request(&self) -> bool;
}

#[derive(QomObject)]
#[qom(interfaces(HotplugHandler))]
pub struct UsbHub {
    parent: ParentField<Object>,
}
impl ObjectImpl for UsbHub {}
impl HotplugHandler for UsbHub {
    fn unplug_request(&self) -> bool {
        true
    }
}

fn main() {
    let dev = Owned::<UsbHub>::new().into_object();
    let handler = dev.interface::<dyn HotplugHandler>().expect("listed and implemented");
    assert!(handler.unplug_request());
}

//! The system bus: devices whose regions sit at fixed addresses in the
//! machine's memory map (not hot-pluggable).

use crate::device::{Device, DeviceImpl};
use crate::memory::MemoryRegion;
use qom_rt::prelude::*;

/// The abstract base of memory-mapped platform devices
/// (`"sys-bus-device"`).
#[derive(QomObject)]
#[qom(name = "sys-bus-device", abstract)]
pub struct SysBusDevice {
    parent: ParentField<Device>,
}

impl ObjectImpl for SysBusDevice {}
impl DeviceImpl for SysBusDevice {}

impl SysBusDevice {
    /// Maps one of the device's regions at `addr` in `container` (the
    /// machine's or an SoC's memory container), like `sysbus_mmio_map`.
    pub fn mmio_map(&self, container: &MemoryRegion, region: &MemoryRegion, addr: u64) {
        container.add_subregion(addr, 0, Owned::from(region));
    }
}

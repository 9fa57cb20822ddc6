//! `gpex-root`: the host bridge's own function at 00.0 on `virt`'s bus
//! (QEMU `hw/pci-host/gpex.c`, `gpex_root_class_init`): Red Hat's
//! 1b36:0008 "PCIe host bridge", class 0x0600, revision 0, no BAR, no
//! interrupt pin. Firmware and Linux find the bus by it; it does nothing
//! else.

use super::config::reg;
use super::device::{PciDevice, PciDeviceImpl};
use crate::device::DeviceImpl;
use qom_rt::prelude::*;

/// The host bridge function (`"gpex-root"`), the `gpex_root` child of the
/// host bridge, at 00.0.
#[derive(QomObject)]
#[qom(name = "gpex-root")]
pub struct GpexRoot {
    parent: ParentField<PciDevice>,
}

impl ObjectImpl for GpexRoot {}

impl DeviceImpl for GpexRoot {
    const DESCRIPTION: &'static str =
        "PCIe host bridge function (00.0 of virt's bus), made with the host bridge";
    /// QEMU's `gpex_root_class_init`: `user_creatable = false`.
    const USER_CREATABLE: bool = false;

    fn realize(&self) -> Result<(), String> {
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        // QEMU's gpex-root leaves `PCI_INTERRUPT_PIN` at 0: it raises none.
        self.parent
            .config_init(|config| config.set(reg::INTERRUPT_PIN, 1, 0));
        Ok(())
    }
}

impl PciDeviceImpl for GpexRoot {
    const VENDOR_ID: u16 = 0x1b36;
    const DEVICE_ID: u16 = 0x0008;
    const CLASS_CODE: u32 = 0x06_00_00;
}

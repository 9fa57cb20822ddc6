//! USB host controllers, in the two shapes the design document cares about:
//!
//! * `xhci-pci` *embeds* its controller state (`xhci`), which owns the
//!   memory region of BAR 0 — QEMU's `XHCIPciState`/`XHCIState`, the shape
//!   whose hot-unplug was a use-after-free in C;
//! * `piix3` (a PIIX-style south bridge) holds its UHCI companion as an
//!   *owned* child in its own allocation.
//!
//! Register behaviour lives in [`crate::models::xhci`] and
//! [`crate::models::uhci`]; the xHCI's QOM types, with its data path to
//! guest memory and the USB bus, in [`super::xhci`].

use crate::device::{Device, DeviceImpl};
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::models::uhci::{self, UhciRegs};
use crate::pci::{BarKind, PciBar, PciDevice, PciDeviceImpl};
use qom_rt::prelude::*;

pub use super::xhci::{XhciPci, XhciState};

/// The UHCI controller of the south bridge (`"piix3-usb-uhci"`).
#[derive(QomObject)]
#[qom(name = "piix3-usb-uhci", interfaces(MmioOps))]
pub struct PiixUhci {
    parent: ParentField<Device>,
    /// The 32-byte I/O register block.
    #[child(embedded)]
    pub io: MemoryRegion,
    regs: UhciRegs,
}

impl ObjectImpl for PiixUhci {
    fn init(&self) {
        self.io.init_io(
            "uhci",
            0x20,
            Sizes { min: 1, max: 4 },
            Sizes { min: 1, max: 4 },
        );
    }
}

impl DeviceImpl for PiixUhci {
    const DESCRIPTION: &'static str = "UHCI USB controller of the PIIX3";

    fn reset(&self) {
        self.regs.reset();
    }
}

impl PiixUhci {
    /// Counts frames on `clock`, a machine's virtual clock (see
    /// [`UhciRegs::set_clock`]).
    pub fn set_clock(&self, clock: crate::clock::VirtualClock) {
        self.regs.set_clock(clock);
    }
}

impl MmioOps for PiixUhci {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        self.regs.read(offset, size)
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        self.regs.write(offset, size, value);
    }
}

/// A PIIX3-style south bridge holding its UHCI companion as an owned
/// child (its own allocation, a strong reference).
#[derive(QomObject)]
#[qom(name = "piix3")]
pub struct Piix3 {
    parent: ParentField<PciDevice>,
    /// The USB companion; BAR 4 decodes its I/O registers.
    #[child(owned)]
    pub uhci: Owned<PiixUhci>,
}

impl ObjectImpl for Piix3 {}

impl DeviceImpl for Piix3 {
    const DESCRIPTION: &'static str = "PIIX3 south bridge with a UHCI companion";

    fn realize(&self) -> Result<(), String> {
        self.uhci
            .upcast::<Device>()
            .realize()
            .map_err(|e| e.to_string())?;
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        // `usb_uhci_common_realize`: the PIIX UHCI function interrupts on
        // INTD#.
        self.parent
            .config_init(|config| config.set(crate::pci::reg::INTERRUPT_PIN, 1, 4));
        Ok(())
    }
}

impl PciDeviceImpl for Piix3 {
    const VENDOR_ID: u16 = uhci::PCI_VENDOR_ID;
    const DEVICE_ID: u16 = uhci::PCI_DEVICE_ID;
    const CLASS_CODE: u32 = uhci::PCI_CLASS_CODE;

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        (index == 4).then_some(PciBar {
            region: &self.uhci.io,
            kind: BarKind::Io,
        })
    }
}

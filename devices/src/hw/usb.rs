//! USB host controllers, in the two shapes the design document cares about:
//!
//! * `xhci-pci` *embeds* its controller state (`xhci`), which owns the
//!   memory region of BAR 0 — QEMU's `XHCIPciState`/`XHCIState`, the shape
//!   whose hot-unplug was a use-after-free in C;
//! * `piix3` (a PIIX-style south bridge) holds its UHCI companion as an
//!   *owned* child in its own allocation.
//!
//! Register behaviour lives in [`crate::models::xhci`] and
//! [`crate::models::uhci`].

use crate::device::{Device, DeviceImpl};
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::models::uhci::{self, UhciRegs};
use crate::models::xhci::{self, XhciRegs};
use crate::pci::{BarKind, PciBar, PciDevice, PciDeviceImpl};
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The xHCI controller state: BAR 0's registers (`"base-xhci"`).
#[derive(QomObject)]
#[qom(name = "base-xhci", interfaces(MmioOps))]
pub struct XhciState {
    parent: ParentField<Device>,
    /// BAR 0: capability, operational, runtime and doorbell registers.
    #[child(embedded)]
    pub mem: MemoryRegion,
    ports: AtomicU32,
    usb2_ports: AtomicU32,
    regs: OnceLock<XhciRegs>,
}

impl ObjectImpl for XhciState {
    fn init(&self) {
        self.mem
            .init_io("xhci", 0x4000, Sizes::ANY, Sizes { min: 4, max: 4 });
    }
    fn finalize(&self) {
        crate::lifetime::finalizing("base-xhci");
    }
}

impl DeviceImpl for XhciState {
    const DESCRIPTION: &'static str = "xHCI controller state (BAR 0 registers)";

    fn realize(&self) -> Result<(), String> {
        let ports = self.ports.load(Ordering::Acquire);
        let usb2_ports = self.usb2_ports.load(Ordering::Acquire);
        // Built once, at the first realize, with the port counts.
        let _ = self.regs.set(XhciRegs::with_usb2(ports, usb2_ports));
        Ok(())
    }

    fn reset(&self) {
        if let Some(regs) = self.regs.get() {
            regs.reset();
        }
    }
}

impl MmioOps for XhciState {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        self.regs.get().map_or(0, |r| r.read(offset, size))
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        if let Some(regs) = self.regs.get() {
            regs.write(offset, size, value);
        }
    }
}

/// QEMU's `qemu-xhci`: a PCI function embedding the controller state.
#[derive(QomObject)]
#[qom(name = "xhci-pci")]
pub struct XhciPci {
    parent: ParentField<PciDevice>,
    /// The controller, in this allocation; owns BAR 0's region.
    #[child(embedded)]
    pub xhci: XhciState,
    /// Root hub ports (MaxPorts in HCSPARAMS1).
    #[property(default = 4, doc = "number of USB 3 root hub ports (1-15)")]
    pub num_ports: Prop<u32>,
    /// USB 2 root hub ports after the USB 3 ones (QEMU's `p2`).
    #[property(
        name = "p2",
        default = 4,
        doc = "number of USB 2 root hub ports (0-15)"
    )]
    pub usb2_ports: Prop<u32>,
}

impl ObjectImpl for XhciPci {
    fn finalize(&self) {
        crate::lifetime::finalizing("xhci-pci");
    }
}

impl DeviceImpl for XhciPci {
    const HOTPLUGGABLE: bool = true;
    const DESCRIPTION: &'static str = "xHCI USB controller (qemu-xhci)";

    fn realize(&self) -> Result<(), String> {
        let ports = self.num_ports.get();
        if !(1..=15).contains(&ports) {
            return Err(format!("num-ports must be between 1 and 15, not {ports}"));
        }
        let usb2_ports = self.usb2_ports.get();
        if ports + usb2_ports > 15 {
            return Err(format!(
                "num-ports ({ports}) plus p2 ({usb2_ports}) must be at most 15"
            ));
        }
        self.xhci.ports.store(ports, Ordering::Release);
        self.xhci.usb2_ports.store(usb2_ports, Ordering::Release);
        self.xhci
            .upcast::<Device>()
            .realize()
            .map_err(|e| e.to_string())?;
        // The PCI part: configuration header from the class.
        <PciDevice as DeviceImpl>::realize(&self.parent)
    }
}

impl PciDeviceImpl for XhciPci {
    const VENDOR_ID: u16 = xhci::PCI_VENDOR_ID;
    const DEVICE_ID: u16 = xhci::PCI_DEVICE_ID;
    const CLASS_CODE: u32 = xhci::PCI_CLASS_CODE;
    const REVISION: u8 = xhci::PCI_REVISION;

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        // `usb_xhci_pci_realize`: BAR 0 is 64-bit memory
        // (PCI_BASE_ADDRESS_MEM_TYPE_64), so BAR 1 holds its high dword.
        (index == 0).then_some(PciBar {
            region: &self.xhci.mem,
            kind: BarKind::Memory64,
        })
    }
}

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

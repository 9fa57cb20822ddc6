//! The `pc` board: QEMU's i440FX/PIIX3 PC (`hw/i386/pc_piix.c`,
//! `hw/i386/pc.c`) for the devices both have, at QEMU's addresses, as the
//! registered machine type `pc` (`qom -M pc`).
//!
//! ```text
//! system memory                          port I/O (system_io, 64 KiB)
//! 0000_0000 pc.ram (RAM, -m, 128 MiB)    0060 i8042 data, 0064 status/command
//! 000a_0000 smram-region -> PCI          0070 mc146818rtc (index, data)
//! 000c_0000 PAM segments -> PCI or RAM   03f8 isa-serial (16550A, IRQ 4)
//!   (PCI: pc.rom 0xc0000, isa-bios       0402 isa-debugcon (with -debugcon)
//!    0xe0000 = last 128 KiB of the BIOS) 0510 fw_cfg_io (selector, data)
//! PCI memory below everything (prio -1) 0cf8 CONFIG_ADDRESS, 0cfc CONFIG_DATA
//! 4 GiB - size  pc.bios (ROM, -bios)     PCI I/O BARs where firmware puts them
//! ```
//!
//! PCI bus 0: the i440FX host bridge at 00.0, the PIIX3 ISA bridge at
//! 01.0 and, with `-usb`, its UHCI function at 01.2; `device_add` takes
//! the first free slot from 02.0 on. Firmware assigns every BAR. The PIC,
//! IOAPIC, local APIC and PIT are not here: the accelerator supplies them
//! (KVM's in-kernel irqchip and PIT), as QEMU's `pc` does under KVM; the
//! board's [`CpuBoard`] side wires the ISA interrupt lines to them.
//! `isa-debug-exit` is plugged with `-device` like a PCI device.

mod build;
pub mod debugcon;
pub mod fw_cfg;
pub mod i440fx;
pub mod i8042;
pub mod isa_irq;
pub mod pci_host;
pub mod piix3;
pub mod rtc;
pub mod serial;

use crate::device::Device;
use crate::error::{Error, Result};
use crate::hotplug::HotplugHandler;
use crate::hw::usb::{Piix3, XhciPci};
use crate::machine::{CpuBoard, ExitSink, IrqSink, MachineImpl, MachineOptions, MachineState};
use crate::memory::{AddressSpace, MemoryRegion};
use crate::pci::PciFunctions;
use crate::usb::{UsbDevice, UsbHost};

use debugcon::{DebugCon, DebugExit};
use fw_cfg::FwCfg;
use i440fx::I440fx;
use i8042::I8042;
use pci_host::PcPciHost;
use piix3::Piix3Isa;
use qom_rt::prelude::*;
use rtc::Rtc;
use serial::Serial;
use std::sync::{Arc, Mutex, OnceLock};

/// Default RAM size (QEMU's `pc`: 128 MiB).
pub const DEFAULT_RAM_SIZE: u64 = 128 << 20;
/// Most RAM this board places below 4 GiB (QEMU's `pc` splits at
/// 0xe0000000 with the default `max-ram-below-4g`; above it is not yet
/// supported here).
pub const MAX_RAM_SIZE: u64 = 0xe000_0000;
/// The part of the BIOS image visible below 1 MiB (`isa-bios`).
pub const ISA_BIOS_MAX: u64 = 128 << 10;
/// `pc.rom`: option ROM space at 0xc0000.
pub const PC_ROM: (u64, u64) = (0xc0000, 0x20000);
/// Debug console port (SeaBIOS's `CONFIG_DEBUG_IO` port).
pub const DEBUGCON_BASE: u64 = 0x402;
/// KVM's identity map and TSS pages, reserved in the e820 map (QEMU's
/// `identity_base`).
pub const KVM_RESERVED: (u64, u64) = (0xfeff_c000, 0x4000);

/// The `pc` board (`"pc-machine"`, `-M pc`).
#[derive(QomObject)]
#[qom(name = "pc-machine", interfaces(CpuBoard, HotplugHandler))]
pub struct PcMachine {
    parent: ParentField<MachineState>,
    /// Guest RAM.
    #[child(embedded)]
    pub ram: MemoryRegion,
    /// The BIOS image below 4 GiB.
    #[child(embedded)]
    pub bios: MemoryRegion,
    /// Its last 128 KiB below 1 MiB.
    #[child(embedded)]
    pub isa_bios: MemoryRegion,
    /// Option ROM space.
    #[child(embedded)]
    pub option_rom: MemoryRegion,
    /// PCI bus 0 and configuration mechanism #1.
    #[child(embedded)]
    pub pci: PcPciHost,
    /// The host bridge function, 00.0.
    #[child(embedded)]
    pub i440fx: I440fx,
    /// The ISA bridge function, 01.0, with the ISA interrupt lines.
    #[child(embedded)]
    pub piix3: Piix3Isa,
    /// The PS/2 keyboard controller.
    #[child(embedded)]
    pub i8042: I8042,
    /// COM1.
    #[child(embedded)]
    pub serial: Serial,
    /// RTC and CMOS.
    #[child(embedded)]
    pub rtc: Rtc,
    /// Debug console (mapped with `-debugcon`).
    #[child(embedded)]
    pub debugcon: DebugCon,
    /// Firmware configuration.
    #[child(embedded)]
    pub fw_cfg: FwCfg,
    io: OnceLock<AddressSpace>,
    pci_memory: OnceLock<AddressSpace>,
    /// Where `isa-debug-exit` writes go: shared with each one plugged.
    exit: Arc<Mutex<Option<ExitSink>>>,
    /// The UHCI function at 01.2, with `-usb`.
    uhci: OnceLock<Owned<Piix3>>,
    /// Where PCI functions' message interrupts go: the accelerator's
    /// injector, once it connects one ([`CpuBoard::connect_msi`]).
    msi: Arc<Mutex<Option<crate::pci::MsiSink>>>,
}

impl ObjectImpl for PcMachine {
    fn init(&self) {
        let io = AddressSpace::new("io", 0x1_0000);
        io.set_unassigned_reads_ones(0..0x1_0000);
        let _ = self.io.set(io);
        let _ = self
            .pci_memory
            .set(AddressSpace::new("pci-memory", 1 << 32));
        // The PCI hole, where BARs are assigned: a read no BAR claims is a
        // master abort, all ones. QEMU 7.2's `pc` answers 0 there (a kept
        // difference, book/src/fidelity.md): guests probing an unplugged
        // function expect the PCI value, and the unplug-under-a-guest test
        // checks for it.
        self.upcast::<MachineState>()
            .system()
            .set_unassigned_reads_ones(MAX_RAM_SIZE..0xfec0_0000);
    }
}

impl MachineImpl for PcMachine {
    const DESCRIPTION: &'static str = "Standard PC (i440FX + PIIX, 1996)";
    const DEFAULT_FIRMWARE: Option<&'static str> = Some("bios-256k.bin");

    fn hotplug_handler(&self) -> Option<&dyn HotplugHandler> {
        Some(self)
    }

    /// Builds the memory map and the devices (see the module docs).
    fn board_init(&self, options: &MachineOptions) -> Result<()> {
        build::board_init(self, options)
    }

    fn address_spaces(&self) -> Vec<&AddressSpace> {
        vec![self.io(), self.pci_memory()]
    }

    fn pci_functions(&self) -> PciFunctions {
        self.pci.functions()
    }
}

impl PcMachine {
    /// The controller of the USB bus `device` names.
    fn usb_host(&self, device: &UsbDevice) -> Result<Owned<Object>> {
        let path = self.canonical_path().unwrap_or_default();
        crate::usb::bus::find_host(&path, device, &device.bus.get())
    }

    /// System memory (MMIO exits, RAM slots, DMA).
    pub fn system(&self) -> &AddressSpace {
        self.upcast::<MachineState>().system()
    }

    /// The port-I/O space.
    pub fn io(&self) -> &AddressSpace {
        self.io.get().expect("created in init")
    }

    /// PCI memory space (memory BARs).
    pub fn pci_memory(&self) -> &AddressSpace {
        self.pci_memory.get().expect("created in init")
    }

    /// The UHCI function at 01.2, with `-usb`.
    pub fn uhci(&self) -> Option<&Piix3> {
        self.uhci.get().map(|u| &**u)
    }
}

/// The accelerator's side: port I/O, the ISA interrupt lines (through the
/// PIIX3), the exit port.
impl CpuBoard for PcMachine {
    fn system_io(&self) -> &AddressSpace {
        self.io()
    }

    fn connect_irqs(&self, set_irq: IrqSink) {
        self.piix3.irqs.connect(set_irq);
    }

    fn connect_exit(&self, exit: ExitSink) {
        *self.exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(exit);
    }

    fn connect_msi(&self, msi: crate::pci::MsiSink) {
        *self.msi.lock().unwrap_or_else(|e| e.into_inner()) = Some(msi);
    }
}

/// `device_add`: PCI devices on bus 0 (hot-pluggable), USB devices on
/// the bus of a USB controller (`bus=usb0.0`), and `isa-debug-exit` at
/// its `iobase` (QEMU's ISA bus takes no hot-plug, so it is plugged with
/// `-device` and cannot be deleted).
impl HotplugHandler for PcMachine {
    fn check_type(&self, device_type: &qom_rt::TypeInfo) -> Result<()> {
        if device_type.is_a(DebugExit::TYPE_INFO) || device_type.is_a(UsbDevice::TYPE_INFO) {
            return Ok(());
        }
        // A PCI type the bus refuses (a root port) says why itself.
        if device_type.is_a(crate::pci::PciDevice::TYPE_INFO) {
            return self.pci.check_type(device_type);
        }
        self.pci.check_type(device_type).map_err(|_| Error::NoBus {
            type_name: device_type.name().to_string(),
            bus: "PCI (or ISA for isa-debug-exit)",
        })
    }

    fn plug(&self, device: &Device) -> Result<()> {
        if let Some(usb) = device.downcast::<UsbDevice>() {
            let host = self.usb_host(usb)?;
            let attach = host.interface::<dyn UsbHost>().map(|h| h.usb_attach(usb));
            return attach.unwrap_or(Ok(())).map_err(|reason| Error::UsbBus {
                device: usb.label(),
                bus: usb.bus.get(),
                reason,
            });
        }
        if let Some(xhci) = device.downcast::<XhciPci>() {
            xhci.xhci
                .set_clock(self.upcast::<MachineState>().clock().clone());
        }
        let Some(exit) = device.downcast::<DebugExit>() else {
            return self.pci.plug(device);
        };
        let port = u64::from(exit.iobase.get());
        if port + exit.io.size() > 0x1_0000 {
            return Err(Error::NoRoom {
                device: device.label(),
                reason: format!("ports {port:#x}+{:#x} are past 0xffff", exit.io.size()),
            });
        }
        let sink = self.exit.clone();
        exit.connect(Arc::new(move |status| {
            let sink = sink.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(sink) = sink {
                sink(status);
            }
        }));
        self.io()
            .root()
            .add_subregion(port, 0, Owned::from(&exit.io));
        Ok(())
    }

    fn unplug(&self, device: &Device) -> Result<()> {
        if let Some(usb) = device.downcast::<UsbDevice>() {
            // A device whose controller went first is on no bus: nothing
            // to undo.
            if usb.speed().is_none() {
                return Ok(());
            }
            let host = self.usb_host(usb)?;
            let detach = host.interface::<dyn UsbHost>().map(|h| h.usb_detach(usb));
            return detach.unwrap_or(Ok(())).map_err(|reason| Error::UsbBus {
                device: usb.label(),
                bus: usb.bus.get(),
                reason,
            });
        }
        if let Some(xhci) = device.downcast::<XhciPci>() {
            // The devices on its bus go first (machine teardown unplugs
            // without unrealizing, so this is the one place for both).
            xhci.remove_devices();
        }
        if let Some(piix3) = device.downcast::<Piix3>() {
            // The same for the UHCI, and its frame thread stops.
            piix3.uhci.remove_devices();
            piix3.uhci.stop_frames();
        }
        match device.downcast::<DebugExit>() {
            Some(exit) => {
                self.io().root().remove_subregion(&exit.io);
                Ok(())
            }
            None => self.pci.unplug(device),
        }
    }
}

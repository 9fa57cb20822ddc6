//! `i440FX-pcihost`: the `pc` board's PCI bus 0 and configuration
//! mechanism #1 (QEMU `hw/pci/pci_host.c`, `hw/pci-host/i440fx.c`).
//!
//! 0xcf8 (`CONFIG_ADDRESS`) takes 32-bit writes only: enable bit 31, bus
//! in bits 16-23, device/function in 8-15, register in 2-7
//! (`pci_host_config_write`); narrower writes are ignored. 0xcfc-0xcff
//! (`CONFIG_DATA`) read and write the addressed function's configuration
//! space with the byte lanes of the access. Reads of an absent function,
//! another bus or with bit 31 clear return all ones.
//!
//! Unlike `gpex-pcihost` on `virt`, this bus never assigns BARs: the
//! guest's firmware does, and each function's BARs are mapped (memory
//! BARs into PCI memory, I/O BARs into the port space) whenever its
//! command register or a BAR is written, as QEMU's `pci_update_mappings`.
//! Each function's INTx pin is wired, while it is on the bus, to the PIRQ
//! its slot and pin reach ([`slot_pirq`]), which the PIIX3 routes to an
//! ISA line.
//!
//! `CONFIG_ADDRESS` migrates (QEMU's `i440FX-pcihost` vmstate carries
//! `config_reg`); each function's configuration space migrates as its
//! `pci-device` level, and the host's `post_load` brings everything
//! derived from them in line: BAR mappings, the i440FX's PAM windows and
//! the PIIX3's PIRQ routes.

use super::i440fx::I440fx;
use super::isa_irq::{slot_pirq, IsaIrqs};
use super::piix3::Piix3Isa;
use crate::device::{Device, DeviceImpl};
use crate::error::{Error, Result};
use crate::hotplug::HotplugHandler;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::pci::{reg, BarKind, BusMaster, MsiSink, PciDevice, PciFunctions};
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// `CONFIG_ADDRESS`.
pub const CONFIG_ADDRESS: u64 = 0xcf8;
/// `CONFIG_DATA`.
pub const CONFIG_DATA: u64 = 0xcfc;

/// A function's address on bus 0: device in bits 3-7, function in 0-2.
pub type Devfn = u8;

#[derive(Default)]
struct Bus {
    functions: BTreeMap<Devfn, Owned<PciDevice>>,
    /// Where each function's BARs are mapped now: (bar, kind, address).
    mapped: BTreeMap<Devfn, Vec<(usize, BarKind, u64)>>,
}

/// The host bridge's bus side (`"i440FX-pcihost"`).
#[derive(QomObject)]
#[qom(name = "i440FX-pcihost", interfaces(MmioOps, HotplugHandler))]
#[migrate(version = 1, min_version = 0)]
pub struct PcPciHost {
    parent: ParentField<Device>,
    /// `CONFIG_ADDRESS` (4 ports at 0xcf8).
    #[child(embedded)]
    pub conf: MemoryRegion,
    /// `CONFIG_DATA` (4 ports at 0xcfc).
    #[child(embedded)]
    pub data: MemoryRegion,
    #[migrate]
    config_address: AtomicU32,
    bus: Mutex<Bus>,
    /// PCI memory's root (memory BARs) and the port space's (I/O BARs).
    windows: OnceLock<(Owned<MemoryRegion>, Owned<MemoryRegion>)>,
    /// Where INTx pins go: the ISA lines, through the PIIX3's routing.
    irqs: OnceLock<IsaIrqs>,
    /// What bus masters see (system memory) and where their messages go.
    bus_master: OnceLock<(Owned<MemoryRegion>, Option<MsiSink>)>,
}

/// After a load every function's configuration space is the source's
/// (every section is applied before any `post_load` runs): map the BARs
/// where they now decode and let the i440FX and the PIIX3 recompute what
/// their registers control, as each configuration write would have.
impl MigrationHooks for PcPciHost {
    fn post_load(&self, _version: u32) {
        for (devfn, function) in self.functions() {
            self.update_mappings(devfn);
            if let Some(i440fx) = function.downcast::<I440fx>() {
                i440fx.config_written(0, 256);
            }
            if let Some(piix3) = function.downcast::<Piix3Isa>() {
                piix3.config_written(0, 256);
            }
        }
    }
}

impl ObjectImpl for PcPciHost {
    fn init(&self) {
        // `pci_host_conf_le_ops`/`pci_host_data_le_ops`: 1-4 byte accesses.
        let sizes = Sizes { min: 1, max: 4 };
        self.conf.init_io("pci-conf-idx", 4, sizes, sizes);
        self.data.init_io("pci-conf-data", 4, sizes, sizes);
    }
}

impl DeviceImpl for PcPciHost {
    const DESCRIPTION: &'static str = "i440FX PCI bus and configuration mechanism #1";
}

/// `PCI_SLOT(devfn)`, `PCI_FUNC(devfn)` as `SS.F`.
pub fn devfn_name(devfn: Devfn) -> String {
    format!("{:02x}.{}", devfn >> 3, devfn & 7)
}

impl PcPciHost {
    fn bus(&self) -> std::sync::MutexGuard<'_, Bus> {
        self.bus.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where BARs go: PCI memory's root and the port space's root. Set
    /// once, by the board.
    pub fn set_windows(&self, memory: &MemoryRegion, io: &MemoryRegion) {
        let _ = self.windows.set((Owned::from(memory), Owned::from(io)));
    }

    /// Where the functions' INTx pins go. Set once, by the board, before
    /// it attaches functions.
    pub fn set_irqs(&self, irqs: IsaIrqs) {
        let _ = self.irqs.set(irqs);
    }

    /// What functions reach as bus masters (`memory`: system memory) and
    /// where their message interrupts go. Set once, by the board.
    pub fn set_bus_master(&self, memory: &MemoryRegion, msi: Option<MsiSink>) {
        let _ = self.bus_master.set((Owned::from(memory), msi));
    }

    /// Puts a realized function at `devfn` and wires its INTx pin.
    pub fn attach(&self, devfn: Devfn, device: &PciDevice) -> Result<()> {
        let mut bus = self.bus();
        if let Some(existing) = bus.functions.get(&devfn) {
            return Err(Error::SlotInUse {
                slot: devfn >> 3,
                existing: existing.label(),
                new: device.label(),
            });
        }
        bus.functions.insert(devfn, Owned::from(device));
        drop(bus);
        if let Some((memory, msi)) = self.bus_master.get() {
            device.connect_bus(Some(BusMaster::new(&device.label(), memory, msi.clone())));
        }
        self.update_mappings(devfn);
        let pin = device.config_read(reg::INTERRUPT_PIN, 1) as u8;
        if let (Some(irqs), Some(pirq)) = (self.irqs.get(), slot_pirq(devfn >> 3, pin)) {
            let irqs = irqs.clone();
            device
                .intx
                .connect(move |level| irqs.set_pci(devfn, pirq, level));
        }
        tracing::info!(target: "pci", devfn = %devfn_name(devfn), device = %device.label(), "attached");
        Ok(())
    }

    /// Takes the function at `devfn` off the bus: its pin is unwired (and
    /// its interrupt withdrawn) and its BARs unmapped.
    pub fn detach(&self, devfn: Devfn) -> Option<Owned<PciDevice>> {
        let mut bus = self.bus();
        let device = bus.functions.remove(&devfn)?;
        let mapped = bus.mapped.remove(&devfn).unwrap_or_default();
        drop(bus);
        device.connect_bus(None);
        device.intx.disconnect();
        if let Some(irqs) = self.irqs.get() {
            irqs.set_pci(devfn, 0, false);
        }
        for (index, kind, _) in mapped {
            if let Some(bar) = device.bar(index) {
                self.window(kind).remove_subregion(bar.region);
            }
        }
        tracing::info!(target: "pci", devfn = %devfn_name(devfn), device = %device.label(), "detached");
        Some(device)
    }

    /// The function at `devfn`.
    pub fn function(&self, devfn: Devfn) -> Option<Owned<PciDevice>> {
        self.bus().functions.get(&devfn).cloned()
    }

    /// Every function, in devfn order.
    pub fn functions(&self) -> PciFunctions {
        let bus = self.bus();
        bus.functions.iter().map(|(d, f)| (*d, f.clone())).collect()
    }

    fn window(&self, kind: BarKind) -> &MemoryRegion {
        let (memory, io) = self
            .windows
            .get()
            .expect("the board sets the windows before plugging");
        if kind.is_memory() {
            memory
        } else {
            io
        }
    }

    /// Brings a function's BAR mappings in line with its configuration
    /// space (`pci_update_mappings`).
    fn update_mappings(&self, devfn: Devfn) {
        let mut bus = self.bus();
        let Some(device) = bus.functions.get(&devfn).cloned() else {
            return;
        };
        let new: Vec<_> = (0..6)
            .filter_map(|index| {
                let bar = device.bar(index)?;
                Some((index, bar.kind, device.bar_address(index)?))
            })
            .collect();
        let old = bus.mapped.insert(devfn, new.clone()).unwrap_or_default();
        drop(bus);
        for entry @ (index, kind, _) in &old {
            if !new.contains(entry) {
                if let Some(bar) = device.bar(*index) {
                    self.window(*kind).remove_subregion(bar.region);
                }
            }
        }
        for entry @ (index, kind, address) in &new {
            if !old.contains(entry) {
                if let Some(bar) = device.bar(*index) {
                    let window = self.window(*kind);
                    window.remove_subregion(bar.region);
                    window.add_subregion(*address, 1, Owned::from(bar.region));
                }
            }
        }
    }

    /// The addressed function and register, if `CONFIG_ADDRESS` enables
    /// an access to bus 0.
    fn decode(&self, port_offset: u64) -> Option<(Devfn, usize)> {
        let address = self.config_address.load(Ordering::Acquire);
        let bus = (address >> 16) & 0xff;
        if address & (1 << 31) == 0 || bus != 0 {
            return None;
        }
        let devfn = (address >> 8) as u8;
        let register = (address & 0xfc) as usize | (port_offset & 3) as usize;
        Some((devfn, register))
    }

    /// A configuration read (`pci_host_config_read_common`).
    pub fn config_read(&self, devfn: Devfn, register: usize, size: usize) -> u32 {
        match self.function(devfn) {
            Some(f) if register + size <= 256 => f.config_read(register, size),
            _ => all_ones(size),
        }
    }

    /// A configuration write; remaps BARs and PAM windows as needed.
    pub fn config_write(&self, devfn: Devfn, register: usize, size: usize, value: u32) {
        let Some(function) = self.function(devfn) else {
            return;
        };
        if register + size > 256 {
            return;
        }
        if function.config_write(register, size, value) {
            self.update_mappings(devfn);
        }
        if let Some(i440fx) = function.downcast::<I440fx>() {
            i440fx.config_written(register, size);
        }
        if let Some(piix3) = function.downcast::<Piix3Isa>() {
            piix3.config_written(register, size);
        }
    }
}

fn all_ones(size: usize) -> u32 {
    if size >= 4 {
        u32::MAX
    } else {
        (1u32 << (8 * size)) - 1
    }
}

impl MmioOps for PcPciHost {
    fn mmio_read(&self, region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        let size = size as usize;
        if std::ptr::eq(region, &self.conf) {
            // `pci_host_config_read`: only a 32-bit read at 0xcf8 answers.
            return if offset == 0 && size == 4 {
                self.config_address.load(Ordering::Acquire).into()
            } else {
                all_ones(size).into()
            };
        }
        match self.decode(offset) {
            Some((devfn, register)) => self.config_read(devfn, register, size).into(),
            None => all_ones(size).into(),
        }
    }

    fn mmio_write(&self, region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        if std::ptr::eq(region, &self.conf) {
            if offset == 0 && size == 4 {
                self.config_address.store(value as u32, Ordering::Release);
            }
            return;
        }
        if let Some((devfn, register)) = self.decode(offset) {
            self.config_write(devfn, register, size as usize, value as u32);
        }
    }
}

impl HotplugHandler for PcPciHost {
    /// Only PCI devices can be hot-plugged on `pc`.
    fn check_type(&self, device_type: &qom_rt::TypeInfo) -> Result<()> {
        // A root port needs a PCI Express bus; i440FX's is conventional.
        if device_type.is_a(crate::pci::PcieRootPort::TYPE_INFO) {
            return Err(Error::NoBus {
                type_name: device_type.name().to_string(),
                bus: "PCI Express",
            });
        }
        if device_type.is_a(PciDevice::TYPE_INFO) {
            Ok(())
        } else {
            Err(Error::NoBus {
                type_name: device_type.name().to_string(),
                bus: "PCI (only PCI devices can be hot-plugged on pc)",
            })
        }
    }

    /// `device_add`: function 0 of the slot in `addr`, or of the first
    /// free slot (QEMU's `pci_bus_devfn_available` order). BARs stay
    /// unassigned until the guest programs them.
    fn plug(&self, device: &Device) -> Result<()> {
        let pci = device.downcast::<PciDevice>().ok_or_else(|| Error::NoBus {
            type_name: device.type_name().to_string(),
            bus: "PCI",
        })?;
        // `pc` has one PCI bus, `pci.0`.
        let bus = pci.bus.get();
        if !bus.is_empty() && bus != "pci.0" {
            return Err(Error::BusNotFound { bus });
        }
        let slot = match pci.addr.get().0 {
            Some(slot) => slot,
            None => {
                let bus = self.bus();
                (0..32u8)
                    .find(|s| !bus.functions.keys().any(|d| d >> 3 == *s))
                    .ok_or_else(|| Error::NoRoom {
                        device: pci.label(),
                        reason: "all 32 slots of bus 0 are in use".into(),
                    })?
            }
        };
        self.attach(slot << 3, pci)?;
        // `addr` reads back the slot taken, as QEMU's devfn does.
        pci.addr.set(crate::pci::PciSlot(Some(slot)));
        Ok(())
    }

    fn unplug(&self, device: &Device) -> Result<()> {
        let devfn = self
            .functions()
            .into_iter()
            .find(|(_, f)| std::ptr::eq(f.header(), device.header()))
            .map(|(d, _)| d)
            .ok_or_else(|| Error::NoSuchDevice { id: device.label() })?;
        self.detach(devfn);
        Ok(())
    }
}

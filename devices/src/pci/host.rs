//! The PCI host bridge (`"gpex-pcihost"` in QEMU's `virt`): a bus of 32
//! slots, configuration access through ECAM, BAR assignment at plug time
//! and the PCI memory and I/O address spaces BARs are mapped into.

use super::device::{BarKind, PciDevice};
use super::gpex_root::GpexRoot;
use super::root_port::PcieRootPort;
use crate::device::{Device, DeviceImpl};
use crate::error::{Error, Result};
use crate::hotplug::HotplugHandler;
use crate::memory::{AddressSpace, MemoryRegion, MmioOps, Sizes};
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use std::sync::{Mutex, OnceLock};

/// ECAM window in system memory with `highmem=off` (QEMU `virt`:
/// `VIRT_PCIE_ECAM`).
pub const ECAM_BASE: u64 = 0x3f00_0000;
/// Its size: 16 buses of 1 MiB.
pub const ECAM_SIZE: u64 = 0x100_0000;
/// ECAM window with `highmem=on`, `virt`'s default (QEMU 7.2
/// `VIRT_HIGH_PCIE_ECAM`).
pub const ECAM_HIGH_BASE: u64 = 0x40_1000_0000;
/// Its size, the whole configuration region: 256 buses of 1 MiB
/// (`PCIE_MMCFG_SIZE_MAX`).
pub const ECAM_HIGH_SIZE: u64 = 0x1000_0000;
/// The 64-bit PCI MMIO window with `highmem=on` (QEMU 7.2
/// `VIRT_HIGH_PCIE_MMIO`: 512 GiB at 512 GiB).
pub const MMIO_HIGH_BASE: u64 = 0x80_0000_0000;
/// Its size.
pub const MMIO_HIGH_SIZE: u64 = 0x80_0000_0000;
/// PCI MMIO window (QEMU `virt`: `VIRT_PCIE_MMIO`).
pub const MMIO_BASE: u64 = 0x1000_0000;
/// PCI MMIO window size.
pub const MMIO_SIZE: u64 = 0x2eff_0000;
/// PCI I/O window in system memory (QEMU `virt`: `VIRT_PCIE_PIO`).
pub const PIO_BASE: u64 = 0x3eff_0000;
/// PCI I/O window size.
pub const PIO_SIZE: u64 = 0x1_0000;

const SLOTS: usize = 32;

#[derive(Default)]
struct Bus {
    slots: [Option<Owned<PciDevice>>; SLOTS],
    /// Where each function's BARs are mapped now, by function (its
    /// object's address; functions behind root ports included): (bar,
    /// kind, address).
    mapped: std::collections::HashMap<usize, Vec<(usize, BarKind, u64)>>,
    /// Address ranges assigned to BARs: (kind, start, end).
    assigned: Vec<(BarKind, u64, u64)>,
}

impl Bus {
    /// The lowest naturally aligned free range of `size` bytes in the
    /// window of `kind` (first fit, so unplugged space is reused).
    fn allocate(&self, kind: BarKind, size: u64) -> Option<u64> {
        let (start, end) = match kind {
            BarKind::Memory | BarKind::Memory64 => (MMIO_BASE, MMIO_BASE + MMIO_SIZE),
            BarKind::Io => (0x1000, PIO_SIZE),
        };
        let mut at = start.next_multiple_of(size);
        while at + size <= end {
            let clash = self
                .assigned
                .iter()
                .find(|(k, s, e)| k.is_memory() == kind.is_memory() && at < *e && *s < at + size);
            match clash {
                Some((_, _, e)) => at = e.next_multiple_of(size),
                None => return Some(at),
            }
        }
        None
    }
}

/// A function's key in [`Bus::mapped`].
fn key(device: &PciDevice) -> usize {
    std::ptr::from_ref(device.header()) as usize
}

/// The PCI host bridge and its bus (`"gpex-pcihost"`). It migrates no
/// field of its own: its slots are the devices plugged on both sides, and
/// its BAR mappings follow the devices' loaded configuration spaces (its
/// `post_load`).
#[derive(QomObject)]
#[qom(name = "gpex-pcihost", interfaces(MmioOps, HotplugHandler))]
#[migrate(version = 1)]
pub struct PciHost {
    parent: ParentField<Device>,
    /// Configuration space of all 256 buses (QEMU's `pcie-mmcfg-mmio`);
    /// the board maps an alias of its first 16 or 256 MiB.
    #[child(embedded)]
    pub ecam: MemoryRegion,
    /// The bridge's own function at 00.0 (QEMU's `gpex_root` child).
    #[child(embedded)]
    pub gpex_root: GpexRoot,
    bus: Mutex<Bus>,
    memory: OnceLock<AddressSpace>,
    io: OnceLock<AddressSpace>,
}

impl ObjectImpl for PciHost {
    fn init(&self) {
        self.ecam.init_io(
            "pcie-mmcfg-mmio",
            ECAM_HIGH_SIZE,
            Sizes::ANY,
            Sizes { min: 1, max: 4 },
        );
        let _ = self.memory.set(AddressSpace::new("pci-memory", 1 << 32));
        let _ = self.io.set(AddressSpace::new("pci-io", PIO_SIZE));
    }
}

/// After a load every device's configuration space is the source's: the
/// address ranges the bus counts as taken become the ones the BARs are
/// programmed to, and each slot is mapped where its BARs now decode (what
/// QEMU's `pci_update_mappings` does as each device loads).
impl MigrationHooks for PciHost {
    fn post_load(&self, _version: u32) {
        let devices = self.devices();
        let assigned = devices
            .iter()
            .flat_map(|(_, device)| (0..6).filter_map(|index| device.bar_range(index)))
            .map(|(kind, start, size)| (kind, start, start + size))
            .collect();
        self.bus().assigned = assigned;
        for device in self.all_devices() {
            self.update_mappings(&device);
        }
    }
}

impl DeviceImpl for PciHost {
    const DESCRIPTION: &'static str = "PCIe host bridge (ECAM, MMIO and I/O windows)";

    /// Realizes the bridge's function and puts it at 00.0, as QEMU's
    /// `gpex_host_realize` does: with no BAR and its command register left
    /// at 0 (plugging a device enables its decoding; this one has none).
    fn realize(&self) -> std::result::Result<(), String> {
        let root = self.gpex_root.upcast::<Device>();
        root.realize().map_err(|e| e.to_string())?;
        let mut bus = self.bus();
        if bus.slots[0].is_none() {
            bus.slots[0] = Some(Owned::from(self.gpex_root.upcast::<PciDevice>()));
        }
        Ok(())
    }
}

impl PciHost {
    /// PCI memory space (BARs of memory kind are mapped here; the machine
    /// maps its root into system memory so PCI addresses are CPU ones).
    pub fn memory(&self) -> &AddressSpace {
        self.memory.get().expect("initialised in init")
    }

    /// PCI I/O space.
    pub fn io(&self) -> &AddressSpace {
        self.io.get().expect("initialised in init")
    }

    fn bus(&self) -> std::sync::MutexGuard<'_, Bus> {
        self.bus.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The device in `slot`, if any.
    pub fn device(&self, slot: u8) -> Option<Owned<PciDevice>> {
        self.bus().slots.get(usize::from(slot))?.clone()
    }

    /// The root port whose id is `name` (the device at
    /// `<machine>/peripheral/<name>`, the machine being the one the port
    /// is on).
    fn root_port(&self, name: &str) -> Option<Owned<PcieRootPort>> {
        self.devices()
            .into_iter()
            .filter_map(|(_, device)| device.downcast_owned::<PcieRootPort>().ok())
            .find(|port| {
                port.canonical_path()
                    .is_some_and(|path| path.ends_with(&format!("/peripheral/{name}")))
            })
    }

    /// Plugs a realized PCI device on the bus its `bus` property names:
    /// the root bus (`pcie.0`, or no `bus`), at its `addr` or the first
    /// free slot, or slot 0 behind the root port with that id. Assigns
    /// its BARs from the windows, enables decoding and maps them. Returns
    /// the slot on its bus.
    pub fn plug_pci(&self, device: &PciDevice) -> Result<u8> {
        let bus_name = device.bus.get();
        if bus_name.is_empty() || bus_name == "pcie.0" {
            return self.plug_root(device);
        }
        let port = self
            .root_port(&bus_name)
            .ok_or(Error::BusNotFound { bus: bus_name })?;
        if device.is_a::<PcieRootPort>() {
            return Err(Error::NoBus {
                type_name: device.type_name().to_string(),
                bus: "root (pcie.0): root ports do not nest",
            });
        }
        self.add_express_capability(device, super::express::TYPE_ENDPOINT);
        port.attach(device)?;
        if let Err(e) = self.assign_bars(device) {
            port.detach(device);
            return Err(e);
        }
        // Slot 0 of the port's secondary bus.
        device.addr.set(super::PciSlot(Some(0)));
        tracing::info!(target: "pci", port = %port.label(), device = %device.label(), "plugged");
        Ok(0)
    }

    /// A PCI Express bus: the function's Express capability, as QEMU's
    /// realize adds it when `pci_bus_is_express` (a root-complex
    /// integrated endpoint on the root bus, an endpoint behind a port).
    fn add_express_capability(&self, device: &PciDevice, port_type: u16) {
        if let Some(offset) = device.pci_class().express_cap {
            device.config_init(|config| {
                if !super::express::has_capability(config) {
                    super::express::add_endpoint_capability(config, offset, port_type);
                }
            });
        }
    }

    fn plug_root(&self, device: &PciDevice) -> Result<u8> {
        let mut bus = self.bus();
        let slot = match device.addr.get().0 {
            Some(slot) => {
                if let Some(existing) = &bus.slots[usize::from(slot)] {
                    return Err(Error::SlotInUse {
                        slot,
                        existing: existing.label(),
                        new: device.label(),
                    });
                }
                slot
            }
            // Slot 0 is the host bridge's own on real hardware; start at 1.
            None => (1..SLOTS as u8)
                .find(|s| bus.slots[usize::from(*s)].is_none())
                .ok_or_else(|| Error::NoRoom {
                    device: device.label(),
                    reason: "all 31 slots are in use".into(),
                })?,
        };
        bus.slots[usize::from(slot)] = Some(Owned::from(device));
        drop(bus);
        if device.is_a::<PcieRootPort>() {
            // Its Express capability is its own (a root port's).
        } else {
            self.add_express_capability(device, super::express::TYPE_RC_END);
        }
        if let Err(e) = self.assign_bars(device) {
            self.bus().slots[usize::from(slot)] = None;
            return Err(e);
        }
        // `addr` reads the slot taken, as QEMU's devfn.
        device.addr.set(super::PciSlot(Some(slot)));
        tracing::info!(target: "pci", slot, device = %device.label(), "plugged");
        Ok(slot)
    }

    /// Assigns the BARs (naturally aligned, first fit in each window),
    /// enables decoding if there is one, and maps them.
    fn assign_bars(&self, device: &PciDevice) -> Result<()> {
        let mut bus = self.bus();
        let mut programmed = Vec::new();
        let mut taken = Vec::new();
        for index in 0..6 {
            let Some(bar) = device.bar(index) else {
                continue;
            };
            let size = bar.region.size().next_power_of_two().max(16);
            let Some(address) = bus.allocate(bar.kind, size) else {
                bus.assigned.retain(|r| !taken.contains(r));
                return Err(Error::NoRoom {
                    device: device.label(),
                    reason: format!("no room for BAR {index} ({size:#x} bytes)"),
                });
            };
            let range = (bar.kind, address, address + size);
            bus.assigned.push(range);
            taken.push(range);
            programmed.push((index, address));
        }
        for (index, address) in programmed {
            device.config_write(0x10 + 4 * index, 4, address as u32);
        }
        device.config_write(0x04, 2, 0x7);
        drop(bus);
        self.update_mappings(device);
        Ok(())
    }

    /// Unplugs a device: unmaps its BARs and frees its slot, on the root
    /// bus or behind a root port (a root port's device goes first).
    pub fn unplug_pci(&self, device: &PciDevice) -> Result<()> {
        if let Some(port) = device.downcast::<PcieRootPort>() {
            if let Some(behind) = port.downstream() {
                self.unplug_pci(&behind)?;
            }
        }
        let mut removed = self
            .devices()
            .into_iter()
            .filter_map(|(_, d)| d.downcast_owned::<PcieRootPort>().ok())
            .find_map(|port| port.detach(device));
        let mut bus = self.bus();
        if removed.is_none() {
            let slot = bus
                .slots
                .iter()
                .position(|s| {
                    s.as_ref()
                        .is_some_and(|d| std::ptr::eq(d.header(), device.header()))
                })
                .ok_or_else(|| Error::NoSuchDevice { id: device.label() })?;
            removed = bus.slots[slot].take();
        }
        let mapped = bus.mapped.remove(&key(device)).unwrap_or_default();
        for index in 0..6 {
            if let (Some(bar), Some(address)) = (device.bar(index), device.bar_address(index)) {
                bus.assigned
                    .retain(|&(k, s, _)| !(k == bar.kind && s == address));
            }
        }
        drop(bus);
        for (index, kind, _) in mapped {
            if let Some(bar) = device.bar(index) {
                self.space(kind).root().remove_subregion(bar.region);
            }
        }
        tracing::info!(target: "pci", device = %device.label(), "unplugged");
        drop(removed);
        Ok(())
    }

    fn space(&self, kind: BarKind) -> &AddressSpace {
        if kind.is_memory() {
            self.memory()
        } else {
            self.io()
        }
    }

    /// Brings a function's BAR mappings in line with its configuration
    /// space.
    fn update_mappings(&self, device: &PciDevice) {
        let mut bus = self.bus();
        let old = bus.mapped.remove(&key(device)).unwrap_or_default();
        let mut new = Vec::new();
        for index in 0..6 {
            if let (Some(bar), Some(address)) = (device.bar(index), device.bar_address(index)) {
                new.push((index, bar.kind, address));
            }
        }
        bus.mapped.insert(key(device), new.clone());
        drop(bus);
        for (index, kind, address) in old {
            if !new.contains(&(index, kind, address)) {
                if let Some(bar) = device.bar(index) {
                    self.space(kind).root().remove_subregion(bar.region);
                }
            }
        }
        for (index, kind, address) in &new {
            if let Some(bar) = device.bar(*index) {
                let root = self.space(*kind).root();
                root.remove_subregion(bar.region);
                root.add_subregion(*address, 1, Owned::from(bar.region));
            }
        }
    }

    /// The plugged devices with their slots.
    pub fn devices(&self) -> Vec<(u8, Owned<PciDevice>)> {
        self.bus()
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.clone().map(|d| (i as u8, d)))
            .collect()
    }

    /// Every plugged function, root ports' devices after their port.
    pub fn all_devices(&self) -> Vec<Owned<PciDevice>> {
        let mut all = Vec::new();
        for (_, device) in self.devices() {
            let behind = device
                .downcast::<PcieRootPort>()
                .and_then(PcieRootPort::downstream);
            all.push(device);
            all.extend(behind);
        }
        all
    }

    /// The function ECAM reaches at `bus` and `slot` (function 0): on
    /// bus 0 the root bus's; on another, slot 0 behind the root port
    /// whose secondary bus number the guest programmed to it.
    pub fn function_at(&self, bus: u8, slot: u8) -> Option<Owned<PciDevice>> {
        if bus == 0 {
            return self.device(slot);
        }
        if slot != 0 {
            return None;
        }
        self.devices()
            .into_iter()
            .filter_map(|(_, d)| d.downcast_owned::<PcieRootPort>().ok())
            .find(|port| port.secondary_bus() == bus)
            .and_then(|port| port.downstream())
    }

    /// `info pci`, as HMP prints it.
    pub fn info_pci(&self) -> String {
        let functions: Vec<_> = self
            .devices()
            .into_iter()
            .map(|(slot, device)| (slot << 3, device))
            .collect();
        super::info::info_pci(&functions)
    }
}

impl MmioOps for PciHost {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        let (bus, slot, function, reg) = ecam_decode(offset);
        match (function, self.function_at(bus, slot)) {
            (0, Some(device)) if reg < 256 => device.config_read(reg, size as usize).into(),
            (0, Some(_)) => 0,
            _ => (1u64 << (8 * size)) - 1,
        }
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        let (bus, slot, function, reg) = ecam_decode(offset);
        if function != 0 || reg >= 256 {
            return;
        }
        if let Some(device) = self.function_at(bus, slot) {
            if device.config_write(reg, size as usize, value as u32) {
                self.update_mappings(&device);
            }
        }
    }
}

/// ECAM offset -> (bus, slot, function, register).
fn ecam_decode(offset: u64) -> (u8, u8, u8, usize) {
    (
        ((offset >> 20) & 0xff) as u8,
        ((offset >> 15) & 0x1f) as u8,
        ((offset >> 12) & 7) as u8,
        (offset & 0xfff) as usize,
    )
}

impl HotplugHandler for PciHost {
    fn check_type(&self, device_type: &qom_rt::TypeInfo) -> Result<()> {
        if device_type.is_a(PciDevice::TYPE_INFO) {
            Ok(())
        } else {
            Err(Error::NoBus {
                type_name: device_type.name().to_string(),
                bus: "PCI",
            })
        }
    }

    fn plug(&self, device: &Device) -> Result<()> {
        let pci = device.downcast::<PciDevice>().ok_or_else(|| Error::NoBus {
            type_name: device.type_name().to_string(),
            bus: "PCI",
        })?;
        self.plug_pci(pci).map(|_| ())
    }

    fn unplug(&self, device: &Device) -> Result<()> {
        match device.downcast::<PciDevice>() {
            Some(pci) => self.unplug_pci(pci),
            None => Ok(()),
        }
    }
}

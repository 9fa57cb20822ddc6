//! The PCI host bridge (`"gpex-pcihost"` in QEMU's `virt`): a bus of 32
//! slots, configuration access through ECAM, BAR assignment at plug time
//! and the PCI memory and I/O address spaces BARs are mapped into.

use super::device::{BarKind, PciDevice};
use super::gpex_root::GpexRoot;
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
    /// Where each slot's BARs are mapped now: (bar, kind, address).
    mapped: [Vec<(usize, BarKind, u64)>; SLOTS],
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
        for (slot, _) in devices {
            self.update_mappings(slot);
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

    /// Plugs a realized PCI device: takes its slot (from `addr`, or the
    /// first free one), assigns its BARs from the windows, enables
    /// decoding and maps them.
    pub fn plug_pci(&self, device: &PciDevice) -> Result<u8> {
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
        // A PCI Express bus: the function's Express capability, as QEMU's
        // realize adds it when `pci_bus_is_express`; on the root bus the
        // function is a root-complex integrated endpoint.
        if let Some(offset) = device.pci_class().express_cap {
            device.config_init(|config| {
                if !super::express::has_capability(config) {
                    super::express::add_endpoint_capability(
                        config,
                        offset,
                        super::express::TYPE_RC_END,
                    );
                }
            });
        }
        // Assign BARs: naturally aligned, first fit in each window.
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
        bus.slots[usize::from(slot)] = Some(Owned::from(device));
        device.addr.set(super::PciSlot(Some(slot))); // `addr` reads the slot taken, as QEMU's devfn
        drop(bus);
        self.update_mappings(slot);
        tracing::info!(target: "pci", slot, device = %device.label(), "plugged");
        Ok(slot)
    }

    /// Unplugs a device: unmaps its BARs and frees its slot.
    pub fn unplug_pci(&self, device: &PciDevice) -> Result<()> {
        let mut bus = self.bus();
        let slot = bus
            .slots
            .iter()
            .position(|s| {
                s.as_ref()
                    .is_some_and(|d| std::ptr::eq(d.header(), device.header()))
            })
            .ok_or_else(|| Error::NoSuchDevice { id: device.label() })?;
        let mapped = std::mem::take(&mut bus.mapped[slot]);
        let removed = bus.slots[slot].take();
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
        tracing::info!(target: "pci", slot, device = %device.label(), "unplugged");
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

    /// Brings a slot's BAR mappings in line with its configuration space.
    fn update_mappings(&self, slot: u8) {
        let mut bus = self.bus();
        let Some(device) = bus.slots[usize::from(slot)].clone() else {
            return;
        };
        let old = std::mem::take(&mut bus.mapped[usize::from(slot)]);
        let mut new = Vec::new();
        for index in 0..6 {
            if let (Some(bar), Some(address)) = (device.bar(index), device.bar_address(index)) {
                new.push((index, bar.kind, address));
            }
        }
        bus.mapped[usize::from(slot)] = new.clone();
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
        let (slot, function, reg) = ecam_decode(offset);
        match (function, self.device(slot)) {
            (0, Some(device)) if reg < 256 => device.config_read(reg, size as usize).into(),
            (0, Some(_)) => 0,
            _ => (1u64 << (8 * size)) - 1,
        }
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        let (slot, function, reg) = ecam_decode(offset);
        if function != 0 || reg >= 256 {
            return;
        }
        if let Some(device) = self.device(slot) {
            if device.config_write(reg, size as usize, value as u32) {
                self.update_mappings(slot);
            }
        }
    }
}

/// ECAM offset -> (slot, function, register), bus 0 only.
fn ecam_decode(offset: u64) -> (u8, u8, usize) {
    if offset >> 20 != 0 {
        // Other buses: nothing there.
        return (u8::MAX, u8::MAX, 0);
    }
    (
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

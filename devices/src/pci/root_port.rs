//! `pcie-root-port`: a PCI Express root port on `virt`'s root bus, the
//! place QEMU hot-plugs PCI Express devices (`hw/pci-bridge/gen_pcie_root_port.c`,
//! `hw/pci/pcie_port.c`): Red Hat's 1b36:000c, a PCI-to-PCI bridge
//! (class 0x0604) with a type-1 header, holding one device at slot 0 of
//! its secondary bus. Its configuration space reads as QEMU 7.2's before
//! firmware programs it: bus numbers 0, the windows closed, and the
//! capability list Express (root port, slot implemented) -> MSI-X (one
//! vector in BAR 0) -> bridge subsystem ID.

use super::config::{reg, ConfigSpace};
use super::device::{BarKind, PciBar, PciDevice, PciDeviceImpl};
use super::msix::{self, MsixTable};
use crate::device::DeviceImpl;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use qom_rt::prelude::*;
use std::sync::Mutex;

/// Primary bus number (byte); the secondary and subordinate follow.
const PRIMARY_BUS: usize = 0x18;
/// Secondary bus number: where the device behind the port answers ECAM.
const SECONDARY_BUS: usize = 0x19;
/// Where the PCI Express capability is (QEMU's `GEN_PCIE_ROOT_PORT`
/// layout: after SSVID at 0x40 and MSI-X at 0x48).
const EXPRESS_CAP: usize = 0x54;
const SSVID_CAP: usize = 0x40;
const MSIX_CAP: usize = 0x48;
/// QEMU's `GEN_PCIE_ROOT_PORT_MSIX_NR_VECTOR` and its 4 KiB BAR (table at
/// 0, pending bits at 0x800, `msix_init_exclusive_bar`).
const MSIX_VECTORS: usize = 1;
const MSIX_PBA: u64 = 0x800;
/// Slot status: presence detect state; link status: data link layer
/// link active (what QEMU's `pcie_cap_slot_plug_cb` sets).
const SLTSTA_PDS: u32 = 1 << 6;
const LNKSTA_DLLLA: u32 = 1 << 13;

/// The root port (`"pcie-root-port"`).
#[derive(QomObject)]
#[qom(name = "pcie-root-port", interfaces(MmioOps))]
pub struct PcieRootPort {
    parent: ParentField<PciDevice>,
    /// QEMU's `chassis`: with `slot`, what tells ports apart (QEMU
    /// refuses two ports with the same pair; kept as given here).
    #[property(
        name = "chassis",
        default = 0,
        doc = "chassis number of the port's slot"
    )]
    pub chassis: Prop<u8>,
    /// QEMU's `slot`: the physical slot number in the slot capabilities.
    #[property(name = "slot", default = 0, doc = "physical slot number (SLTCAP)")]
    pub slot: Prop<u16>,
    /// BAR 0: the MSI-X table and pending bits.
    #[child(embedded)]
    pub msix_bar: MemoryRegion,
    msix: PortMsix,
    /// The device at slot 0 of the secondary bus.
    downstream: Mutex<Option<Owned<PciDevice>>>,
}

impl ObjectImpl for PcieRootPort {
    fn init(&self) {
        self.msix_bar.init_io(
            "pcie-root-port-msix",
            0x1000,
            Sizes::ANY,
            Sizes { min: 4, max: 4 },
        );
    }
}

/// The port's MSI-X table, made for its capability and vector count.
struct PortMsix(MsixTable);

impl Default for PortMsix {
    fn default() -> Self {
        PortMsix(MsixTable::new(MSIX_CAP, MSIX_VECTORS))
    }
}

impl std::ops::Deref for PortMsix {
    type Target = MsixTable;
    fn deref(&self) -> &MsixTable {
        &self.0
    }
}

impl DeviceImpl for PcieRootPort {
    const DESCRIPTION: &'static str =
        "PCI Express root port: plug one device behind it with bus=<its id>";

    fn realize(&self) -> Result<(), String> {
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        let slot = u32::from(self.slot.get());
        self.parent.config_init(|config| init_config(config, slot));
        Ok(())
    }

    fn reset(&self) {
        self.msix.reset();
    }
}

/// The type-1 header and capabilities as QEMU 7.2's realize leaves them.
fn init_config(config: &mut ConfigSpace, slot: u32) {
    config.set(reg::HEADER_TYPE, 1, 1);
    // A type-1 header has no subsystem IDs at 0x2c (the prefetchable
    // window's upper base is there): QEMU's bridge puts them in SSVID.
    config.set(0x2c, 4, 0);
    // Windows closed (`pci_bridge_initfn`): I/O base 0xf0 over limit 0,
    // memory base 0xfff0 over limit 0, prefetchable 64-bit likewise.
    config.set(0x1c, 2, 0x00f0);
    config.set(0x20, 4, 0x0000_fff0);
    config.set(0x24, 4, 0x0001_fff1);
    // `pci_bridge_initfn`'s write masks: bus numbers, secondary latency,
    // the windows and the bridge control.
    config.set_writable(PRIMARY_BUS, 4, 0xffff_ffff);
    config.set_writable(0x1c, 2, 0xf0f0);
    config.set_writable(0x20, 4, 0xfff0_fff0);
    config.set_writable(0x24, 4, 0xfff0_fff0);
    config.set_writable(0x28, 4, 0xffff_ffff);
    config.set_writable(0x2c, 4, 0xffff_ffff);
    config.set_writable(0x30, 4, 0xffff_ffff);
    config.set_writable(0x3e, 2, 0x0fff);
    // Capabilities, each linked in front of the list as QEMU adds them.
    config.set(SSVID_CAP, 4, 0x0d); // PCI_CAP_ID_SSVID, last
    config.set(SSVID_CAP + 4, 4, 0x1b36); // subsystem vendor Red Hat
    config.set(reg::CAPABILITIES, 1, SSVID_CAP as u32);
    msix::add_capability(config, MSIX_CAP, MSIX_VECTORS as u16, 0, 0, MSIX_PBA as u32);
    let express = [
        (0x00, 0x0142_0010 | (MSIX_CAP as u32) << 8), // v2, root port, slot
        (0x04, 0x0000_8000),                          // DEVCAP: role-based errors
        (0x0c, 0x0030_0604),                          // LNKCAP: 16 GT/s x32, L0s, DLLLARC, LBNC
        (0x10, 0x0204_0000),                          // LNKSTA: 16 GT/s x32
        (0x14, 0x0002_007b | slot << 19),             // SLTCAP: hot-plug, slot number
        (0x18, 0x0000_07c0),                          // SLTCTL: power and indicators off
        (0x24, 0x0030_0020),                          // DEVCAP2: ARI forwarding, EFF, EETLPP
        (0x2c, 0x0000_001e),                          // LNKCAP2: 2.5 to 16 GT/s
        (0x30, 0x0000_0004),                          // LNKCTL2: target 16 GT/s
    ];
    for (offset, value) in express {
        config.set(EXPRESS_CAP + offset, 4, value);
    }
    config.set(reg::CAPABILITIES, 1, EXPRESS_CAP as u32);
    // DEVCTL error enables, LNKCTL, SLTCTL and RTCTL are the guest's.
    config.set_writable(EXPRESS_CAP + 0x08, 2, 0x000f);
    config.set_writable(EXPRESS_CAP + 0x10, 2, 0x0c03);
    config.set_writable(EXPRESS_CAP + 0x18, 2, 0x17ff);
    config.set_writable(EXPRESS_CAP + 0x1c, 2, 0x001f);
}

impl PciDeviceImpl for PcieRootPort {
    const VENDOR_ID: u16 = 0x1b36;
    const DEVICE_ID: u16 = 0x000c;
    const CLASS_CODE: u32 = 0x06_04_00;

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        (index == 0).then_some(PciBar {
            region: &self.msix_bar,
            kind: BarKind::Memory,
        })
    }

    fn config_written(&self, offset: usize, size: usize) {
        let control = MSIX_CAP + 2;
        if offset < control + 2 && control < offset + size {
            self.msix.deliver_pending(&self.parent);
        }
    }
}

impl MmioOps for PcieRootPort {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, _size: u32) -> u64 {
        match offset {
            ..MSIX_PBA => self.msix.read_table(offset).into(),
            _ => self.msix.read_pba(offset - MSIX_PBA).into(),
        }
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, _size: u32, value: u64) {
        if offset < MSIX_PBA {
            self.msix.write_table(&self.parent, offset, value as u32);
        }
    }
}

impl PcieRootPort {
    /// The secondary bus number the guest (or firmware) programmed: 0
    /// until then, as on QEMU, where nothing behind the port answers.
    pub fn secondary_bus(&self) -> u8 {
        self.parent.config_read(SECONDARY_BUS, 1) as u8
    }

    /// The device behind the port, if any.
    pub fn downstream(&self) -> Option<Owned<PciDevice>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Owned<PciDevice>>> {
        self.downstream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `device` at slot 0 of the secondary bus: presence detected,
    /// link up. Refuses a second device or another slot.
    pub(super) fn attach(&self, device: &PciDevice) -> crate::error::Result<()> {
        let mut downstream = self.lock();
        let port = self.parent.upcast::<crate::device::Device>().label();
        if let Some(slot) = device.addr.get().0.filter(|s| *s != 0) {
            return Err(crate::error::Error::NoRoom {
                device: device.label(),
                reason: format!("root port `{port}` has slot 0 only, not slot {slot}"),
            });
        }
        if let Some(existing) = downstream.as_ref() {
            return Err(crate::error::Error::SlotInUse {
                slot: 0,
                existing: existing.label(),
                new: device.label(),
            });
        }
        *downstream = Some(Owned::from(device));
        self.set_presence(Some(device));
        Ok(())
    }

    /// Lets go of `device` if it is the one behind the port.
    pub(super) fn detach(&self, device: &PciDevice) -> Option<Owned<PciDevice>> {
        let mut downstream = self.lock();
        let ours = downstream
            .as_ref()
            .is_some_and(|d| std::ptr::eq(d.header(), device.header()));
        if !ours {
            return None;
        }
        self.set_presence(None);
        downstream.take()
    }

    /// Slot and link state with `device` present or not, as QEMU 7.2
    /// shows them: a populated slot is powered with its power indicator
    /// on (SLTCTL 0x01c0, `pcie_cap_slot_reset`) and presence detected;
    /// the link is up at the device's width and speed (2.5 GT/s x1 for a
    /// function whose Express capability says no more); an empty slot is
    /// powered off with the link down at the port's own 16 GT/s x32.
    fn set_presence(&self, device: Option<&PciDevice>) {
        let link = device.map(|device| {
            let mut link = 0x11;
            let mut at = device.config_read(reg::CAPABILITIES, 1) as usize;
            for _ in 0..48 {
                if at < 0x40 {
                    break;
                }
                if device.config_read(at, 1) == u32::from(super::express::CAP_ID) {
                    link = device.config_read(at + 0x12, 2) & 0x3ff;
                    break;
                }
                at = device.config_read(at + 1, 1) as usize;
            }
            link
        });
        self.parent.config_init(|config| {
            let (sltctl, sltsta, lnksta) = match link {
                Some(link) => (0x01c0, SLTSTA_PDS, LNKSTA_DLLLA | link),
                None => (0x07c0, 0, 0x0204),
            };
            config.set(EXPRESS_CAP + 0x18, 2, sltctl);
            config.set(EXPRESS_CAP + 0x1a, 2, sltsta);
            config.set(EXPRESS_CAP + 0x12, 2, lnksta);
        });
    }
}

//! The abstract PCI device: configuration space with IDs from the class,
//! BARs backed by memory regions, and the `addr` property.

use super::config::{
    reg, ConfigSpace, PciConfig, PciSlot, COMMAND_INTX_DISABLE, COMMAND_IO, COMMAND_MASTER,
    COMMAND_MEMORY, COMMAND_SERR, STATUS_INTERRUPT,
};
use crate::device::{Device, DeviceImpl};
use crate::irq::IrqLine;
use crate::memory::MemoryRegion;
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;
use qom_rt::{ClassFor, ComputedProperties, ComputedProperty};

/// Which address space a BAR decodes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    /// 32-bit memory space.
    Memory,
    /// 64-bit memory space (`PCI_BASE_ADDRESS_MEM_TYPE_64`): the BAR holds
    /// the low dword of the address and the next BAR register the high
    /// one, so the device declares no BAR at the next index.
    Memory64,
    /// I/O space.
    Io,
}

impl BarKind {
    /// Whether the BAR decodes memory (32 or 64 bits) rather than I/O.
    pub fn is_memory(self) -> bool {
        !matches!(self, BarKind::Io)
    }

    /// The BAR register's read-only low bits (`PCI_BASE_ADDRESS_SPACE_IO`,
    /// `PCI_BASE_ADDRESS_MEM_TYPE_64`).
    fn flags(self) -> u32 {
        match self {
            BarKind::Memory => 0,
            BarKind::Memory64 => 0x4,
            BarKind::Io => 0x1,
        }
    }

    /// The address bits of the BAR register.
    fn address_mask(self) -> u64 {
        match self {
            BarKind::Io => !0x3,
            BarKind::Memory | BarKind::Memory64 => !0xf,
        }
    }
}

/// A BAR as its device declares it: the region behind it and its kind.
pub struct PciBar<'a> {
    /// The region (its size is the BAR size, a power of two).
    pub region: &'a MemoryRegion,
    /// Memory or I/O.
    pub kind: BarKind,
}

/// What every PCI device type provides. IDs are required class constants.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a PCI device: implement `PciDeviceImpl` for it",
    label = "missing `impl PciDeviceImpl for {Self}`",
    note = "PCI devices declare their IDs: `impl PciDeviceImpl for {Self} {{ const VENDOR_ID: u16 = ..; const DEVICE_ID: u16 = ..; const CLASS_CODE: u32 = ..; }}`"
)]
pub trait PciDeviceImpl: DeviceImpl + IsA<PciDevice> {
    /// Vendor ID (config offset 0).
    const VENDOR_ID: u16;
    /// Device ID (config offset 2).
    const DEVICE_ID: u16;
    /// 24-bit class code (base class, subclass, programming interface).
    const CLASS_CODE: u32;
    /// Revision ID.
    const REVISION: u8 = 0;
    /// Where a PCI Express bus puts the function's Express capability
    /// (QEMU devices that call `pcie_endpoint_cap_init` when
    /// `pci_bus_is_express`); `None` for a conventional function.
    const EXPRESS_CAP: Option<usize> = None;

    /// The BAR at `index` (0..6), if the device has one there.
    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        let _ = index;
        None
    }

    /// The guest wrote `size` bytes at `offset` of the configuration
    /// space (after the write, with the space unlocked): what a QEMU
    /// device's `config_write` does beyond storing (MSI-X unmasking).
    fn config_written(&self, offset: usize, size: usize) {
        let _ = (offset, size);
    }
}

/// The PCI class: IDs and BAR lookup for one concrete type.
pub struct PciDeviceClass {
    bar: for<'a> fn(&'a PciDevice, usize) -> Option<PciBar<'a>>,
    config_written: fn(&PciDevice, usize, usize),
    /// Vendor ID.
    pub vendor_id: u16,
    /// Device ID.
    pub device_id: u16,
    /// Class code.
    pub class_code: u32,
    /// Revision.
    pub revision: u8,
    /// See [`PciDeviceImpl::EXPRESS_CAP`].
    pub express_cap: Option<usize>,
}

impl<T: PciDeviceImpl> ClassFor<T> for PciDeviceClass {
    const CLASS: Self = PciDeviceClass {
        bar: |d, i| d.downcast::<T>().and_then(|t| t.bar(i)),
        config_written: |d, o, s| d.downcast::<T>().map_or((), |t| t.config_written(o, s)),
        vendor_id: T::VENDOR_ID,
        device_id: T::DEVICE_ID,
        class_code: T::CLASS_CODE,
        revision: T::REVISION,
        express_cap: T::EXPRESS_CAP,
    };
}

/// The abstract base of PCI functions (`"pci-device"`). Its configuration
/// space migrates as the `pci-device` level of every PCI device, BAR
/// programming included, whether or not the device's own type migrates
/// anything yet.
#[derive(QomObject)]
#[qom(
    name = "pci-device",
    abstract,
    class = PciDeviceClass,
    interfaces(ComputedProperties)
)]
pub struct PciDevice {
    parent: ParentField<Device>,
    /// The slot on the bus, or automatic.
    #[property(
        name = "addr",
        doc = "slot on the PCI bus in hex (e.g. 03.0), or auto; read back as QEMU's devfn"
    )]
    pub addr: Prop<PciSlot>,
    /// The bus to plug into: the root bus (`pcie.0` on `virt`, `pci.0` on
    /// `pc`, or empty for it) or a `pcie-root-port`'s id.
    #[property(
        name = "bus",
        doc = "PCI bus to plug into: pcie.0 or a pcie-root-port's id"
    )]
    pub bus: Prop<String>,
    #[migrate]
    config: PciConfig,
    /// INTA#, the function's interrupt pin, driven by [`PciDevice::set_irq`]
    /// (the machine wires it to its interrupt controller, a test to an
    /// [`IrqRecorder`](crate::irq::IrqRecorder)).
    pub intx: IrqLine,
    /// Where bus-master DMA goes and where message interrupts are sent,
    /// while the function is on a bus ([`PciDevice::connect_bus`]).
    pub(super) bus_master: std::sync::Mutex<Option<super::dma::BusMaster>>,
}

impl ObjectImpl for PciDevice {}

/// The device's, then QEMU 7.2's `PCIDevice` properties that `qom` does
/// not model, read-only at QEMU's defaults (no option ROM, one function
/// per slot, the PCI Express link quirks on), and `legacy-addr`, the slot
/// as `info qtree` writes it.
impl ComputedProperties for PciDevice {
    fn computed_properties(&self) -> Vec<ComputedProperty> {
        let mut all = self.parent.computed_properties();
        let str =
            |name, doc, value: &str| ComputedProperty::with_type(name, "str", doc, value.into());
        all.extend([
            str("failover_pair_id", "failover pair (none)", ""),
            str("romfile", "option ROM image (none)", ""),
            ComputedProperty::new("romsize", "option ROM size (none)", u32::MAX),
            ComputedProperty::new("x-pcie-lnksta-dllla", "link status DLLLA quirk", true),
            ComputedProperty::new("rombar", "option ROM BAR (none mapped)", 1u32),
            ComputedProperty::new("x-pcie-extcap-init", "extended capability quirk", true),
            ComputedProperty::new("acpi-index", "ACPI index (none)", 0u32),
            ComputedProperty::new("multifunction", "multi-function device", false),
            str(
                "legacy-addr",
                "the slot as `info qtree` shows it",
                &self.addr.get().slot_text(),
            ),
        ]);
        all
    }
}

/// INTA# follows the loaded status and command registers (the host bridge
/// maps the loaded BARs: [`PciHost`](super::PciHost)'s `post_load`).
impl MigrationHooks for PciDevice {
    fn post_load(&self, _version: u32) {
        let config = self.config.lock();
        self.intx.set(intx_level(&config));
    }
}

/// PCI's common realize: the configuration header from the class.
impl DeviceImpl for PciDevice {
    fn realize(&self) -> std::result::Result<(), String> {
        let class = self.pci_class();
        let mut config = self.config.lock();
        *config = ConfigSpace::default();
        // No interrupt is pending in a fresh configuration space.
        self.intx.set(false);
        config.set(reg::VENDOR_ID, 2, class.vendor_id.into());
        config.set(reg::DEVICE_ID, 2, class.device_id.into());
        config.set(reg::REVISION, 1, class.revision.into());
        config.set(reg::REVISION + 1, 3, class.class_code);
        config.set(reg::HEADER_TYPE, 1, 0);
        // QEMU's default subsystem IDs (Red Hat, "QEMU virtual machine";
        // `pci_set_default_subsystem_id`, hw/pci/pci.c): SeaBIOS's
        // `qemu_detect` looks for them on the host bridge.
        config.set(0x2c, 2, 0x1af4);
        config.set(0x2e, 2, 0x1100);
        config.set(reg::INTERRUPT_PIN, 1, 1);
        // QEMU's `pci_init_wmask`: SERR# enable is writable too
        // (`command_serr_enable` defaults on), and so is the cache line
        // size, which QEMU stores and ignores.
        config.set_writable(
            reg::COMMAND,
            2,
            u32::from(
                COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_SERR | COMMAND_INTX_DISABLE,
            ),
        );
        config.set_writable(reg::CACHE_LINE_SIZE, 1, 0xff);
        config.set_writable(reg::INTERRUPT_LINE, 1, 0xff);
        for index in 0..6 {
            if let Some(bar) = (class.bar)(self, index) {
                let offset = reg::BAR0 + 4 * index;
                let size = bar.region.size().next_power_of_two().max(16);
                config.set(offset, 4, bar.kind.flags());
                // The sizing protocol: the address bits below the size are
                // read-only zeros, so writing all ones reads back ~(size-1).
                // A 64-bit BAR's high dword is all address bits
                // (`pci_register_bar`: the 64-bit wmask is ~(size - 1)).
                config.set_writable(offset, 4, !(size as u32 - 1));
                if bar.kind == BarKind::Memory64 && index < 5 {
                    config.set_writable(offset + 4, 4, u32::MAX);
                }
            }
        }
        Ok(())
    }
}

impl PciDeviceImpl for PciDevice {
    const VENDOR_ID: u16 = 0xffff;
    const DEVICE_ID: u16 = 0xffff;
    const CLASS_CODE: u32 = 0xff_0000;
}

impl PciDevice {
    /// The PCI class of the device's dynamic type.
    pub fn pci_class(&self) -> &'static PciDeviceClass {
        self.class::<PciDeviceClass>()
            .expect("every PCI device type has a PCI class")
    }

    /// The BAR at `index`.
    pub fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        (self.pci_class().bar)(self, index)
    }

    /// A configuration space read (1, 2 or 4 bytes).
    pub fn config_read(&self, offset: usize, size: usize) -> u32 {
        self.config.lock().read(offset, size)
    }

    /// A configuration space write; returns whether BAR decoding may have
    /// changed (command register or a BAR was written).
    pub fn config_write(&self, offset: usize, size: usize, value: u32) -> bool {
        let mut config = self.config.lock();
        config.write(offset, size, value);
        let touches = |start: usize, len: usize| offset < start + len && start < offset + size;
        if touches(reg::COMMAND, 2) {
            // INTx disable may have changed: the pin follows at once.
            self.intx.set(intx_level(&config));
        }
        drop(config);
        (self.pci_class().config_written)(self, offset, size);
        touches(reg::COMMAND, 2) || touches(reg::BAR0, 24)
    }

    /// Raises or lowers the function's interrupt, as QEMU's `pci_set_irq`:
    /// the status register's Interrupt Status bit records it, and INTA#
    /// follows unless the guest set INTx Disable in the command register.
    /// The line is driven under the configuration space's lock, so its
    /// level never disagrees with the status bit; its sink must not access
    /// this function's configuration space.
    pub fn set_irq(&self, level: bool) {
        let mut config = self.config.lock();
        let status = config.read(reg::STATUS, 2) as u16;
        let status = if level {
            status | STATUS_INTERRUPT
        } else {
            status & !STATUS_INTERRUPT
        };
        config.set(reg::STATUS, 2, status.into());
        self.intx.set(intx_level(&config));
    }

    /// Device-side changes to the configuration space after the common
    /// realize (header type, extra writable registers): what a QEMU
    /// device's `realize` does to `pci_dev->config` and `wmask`.
    pub fn config_init(&self, init: impl FnOnce(&mut ConfigSpace)) {
        init(&mut self.config.lock());
    }

    /// Where a BAR is programmed, whether or not its decoding is enabled:
    /// its kind, address and size; `None` while it is unprogrammed (zero)
    /// or being sized (all ones written, reaching the top of the 32-bit
    /// space), as QEMU's `pci_bar_address`.
    pub fn bar_range(&self, index: usize) -> Option<(BarKind, u64, u64)> {
        let bar = self.bar(index)?;
        let config = self.config.lock();
        let offset = reg::BAR0 + 4 * index;
        let mut raw = u64::from(config.read(offset, 4));
        if bar.kind == BarKind::Memory64 {
            raw |= u64::from(config.read(offset + 4, 4)) << 32;
        }
        let address = raw & bar.kind.address_mask();
        let size = bar.region.size().next_power_of_two().max(16);
        // Zero is unprogrammed; a BAR whose end wraps (or, for a 32-bit
        // one, reaches the top of the 32-bit space) is mid-sizing, all ones
        // written, as QEMU's `pci_bar_address` decides.
        let limit = match bar.kind {
            BarKind::Memory64 => u64::MAX,
            BarKind::Memory | BarKind::Io => 1 << 32,
        };
        let fits = address.checked_add(size).is_some_and(|end| end < limit);
        (address != 0 && fits).then_some((bar.kind, address, size))
    }

    /// The address a BAR is programmed to, if its decoding is enabled.
    pub fn bar_address(&self, index: usize) -> Option<u64> {
        let (kind, address, _) = self.bar_range(index)?;
        let command = self.config.lock().command();
        let enabled = match kind {
            BarKind::Memory | BarKind::Memory64 => command & COMMAND_MEMORY != 0,
            BarKind::Io => command & COMMAND_IO != 0,
        };
        enabled.then_some(address)
    }
}

/// INTA#'s level: an interrupt is pending and INTx is not disabled.
fn intx_level(config: &ConfigSpace) -> bool {
    let pending = config.read(reg::STATUS, 2) as u16 & STATUS_INTERRUPT != 0;
    pending && config.command() & COMMAND_INTX_DISABLE == 0
}

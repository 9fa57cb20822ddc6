//! `xhci-pci` (QEMU's `qemu-xhci`, `hw/usb/hcd-xhci-pci.c`) and the
//! controller state it embeds (`XHCIState`), which owns BAR 0: the shape
//! whose hot-unplug was a use-after-free in C.
//!
//! BAR 0 (16 KiB, 64-bit) holds the xHCI registers ([`XhciRegs`]) and,
//! from 0x3000, the MSI-X table (16 vectors) and from 0x3800 its pending
//! bits, as QEMU lays them out. Configuration space, dword for dword what
//! QEMU 7.2's `qemu-xhci` shows on `pc` (`test-support/reference/
//! pci-dump-qemu-xhci.log`): QEMU's IDs, the subsystem ID, `SBRN` 0x30,
//! one capability, MSI-X at 0x90, and INTA#. (`qemu-xhci` has MSI off by
//! default, and adds a PCI Express endpoint capability at 0xa0 only on a
//! PCI Express bus: `virt`'s adds it at plug, `pc`'s has none.)
//!
//! A guest access to BAR 0 holds a strong reference on the controller
//! state (the memory core's rule); the data path then takes one on the
//! PCI function with the container try-acquire: once the function has
//! begun finalizing, registers still answer but no DMA, device or
//! interrupt is reached. DMA goes through the function's bus-master space
//! while it is on the bus ([`PciDevice::bus_dma_read`]). A DMA that lands
//! on a controller's own BAR while the controller is busy is refused (as
//! QEMU's memory re-entrancy guard does).

use crate::clock::VirtualClock;
use crate::device::{Device, DeviceImpl};
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::models::xhci::{self, XhciBus, XhciRegs, XhciSnapshot};
use crate::pci::msix::{self, MsixTable};
use crate::pci::{BarKind, PciBar, PciDevice, PciDeviceImpl};
use crate::usb::{UsbBus, UsbDevice, UsbHost};
use qom_rt::migration::{MigrateField, MigrationHooks, Value, VmState};
use qom_rt::prelude::*;
use qom_rt::{ComputedProperties, ComputedProperty};
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Start of the MSI-X table in BAR 0 (QEMU's `OFF_MSIX_TABLE`).
pub const MSIX_TABLE: u64 = 0x3000;
/// Start of the MSI-X pending bit array in BAR 0 (`OFF_MSIX_PBA`).
pub const MSIX_PBA: u64 = 0x3800;
/// Where the MSI-X capability is in configuration space.
pub const MSIX_CAP: usize = 0x90;

thread_local! {
    /// This thread is inside an xHCI data path (its state is locked).
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// The xHCI controller state: BAR 0's registers (`"base-xhci"`).
#[derive(QomObject)]
#[qom(name = "base-xhci", interfaces(MmioOps))]
#[migrate(version = 1, min_version = 0)]
pub struct XhciState {
    parent: ParentField<Device>,
    /// BAR 0: capability, operational, runtime and doorbell registers.
    #[child(embedded)]
    pub mem: MemoryRegion,
    ports: AtomicU32,
    usb2_ports: AtomicU32,
    /// Migrates as [`XhciSnapshot`](crate::models::xhci::XhciSnapshot),
    /// with its rule for transfers in flight.
    #[migrate]
    regs: XhciRegsCell,
    bus: OnceLock<UsbBus>,
    /// The MSI-X table and pending bits (QEMU migrates them with
    /// `msix_save`).
    #[migrate]
    msix: XhciMsix,
    clock: OnceLock<VirtualClock>,
    /// A moderation timer is armed (see `arm_moderation`).
    moderation_armed: std::sync::atomic::AtomicBool,
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
        let regs = self
            .regs
            .get_or_init(|| XhciRegs::with_usb2(ports, usb2_ports));
        let _ = self.bus.set(UsbBus::new(
            (0..regs.num_uports())
                .map(|u| regs.uport_speeds(u))
                .collect(),
        ));
        Ok(())
    }

    fn reset(&self) {
        if let Some(regs) = self.regs.get() {
            regs.reset();
        }
        self.msix.reset();
    }
}

/// The registers, built at the first realize (with the port counts).
#[derive(Default)]
struct XhciRegsCell(OnceLock<XhciRegs>);

impl std::ops::Deref for XhciRegsCell {
    type Target = OnceLock<XhciRegs>;
    fn deref(&self) -> &OnceLock<XhciRegs> {
        &self.0
    }
}

/// A realized controller's registers migrate; both sides are realized
/// before a save or a load, so an unrealized one has nothing to carry
/// and keeps its reset state.
impl MigrateField for XhciRegsCell {
    type Value = XhciSnapshot;

    fn save(&self) -> Value {
        match self.0.get() {
            Some(regs) => <XhciRegs as MigrateField>::save(regs),
            // Not realized: the reset state (ports only differ once
            // devices attach, which needs a realized controller).
            None => <XhciRegs as MigrateField>::save(&XhciRegs::with_usb2(0, 0)),
        }
    }

    fn restore(&self, value: XhciSnapshot) {
        if let Some(regs) = self.0.get() {
            <XhciRegs as MigrateField>::restore(regs, value);
        }
    }
}

/// The MSI-X table as it migrates: one entry per interrupter (address
/// low, address high, data, vector control) and the pending bits.
#[derive(Clone, VmState)]
pub struct XhciMsixState {
    table: [[u32; 4]; xhci::MAX_INTRS],
    pending: u64,
}

impl MigrateField for XhciMsix {
    type Value = XhciMsixState;

    fn save(&self) -> Value {
        let (entries, pending) = self.0.entries();
        let mut table = [[0; 4]; xhci::MAX_INTRS];
        for (slot, entry) in table.iter_mut().zip(entries) {
            *slot = entry;
        }
        XhciMsixState { table, pending }.to_value()
    }

    fn restore(&self, value: XhciMsixState) {
        self.0.set_entries(&value.table, value.pending);
    }
}

/// After a load: interrupts the loaded state asks for go out (the PCI
/// level or the pending MSI-X vectors), and every endpoint with a TD
/// waiting is tried again (see the rule for transfers in flight in
/// [`XhciSnapshot`]).
impl MigrationHooks for XhciState {
    fn post_load(&self, _version: u32) {
        self.with_bus(|regs, bus| {
            if let Some(bus) = bus {
                regs.poll(bus);
                for port in 0..regs.num_ports() as usize {
                    regs.wake(port, bus);
                }
            }
        });
    }
}

/// The controller's MSI-X table: one vector per interrupter.
struct XhciMsix(MsixTable);

impl Default for XhciMsix {
    fn default() -> Self {
        XhciMsix(MsixTable::new(MSIX_CAP, xhci::MAX_INTRS))
    }
}

impl std::ops::Deref for XhciMsix {
    type Target = MsixTable;
    fn deref(&self) -> &MsixTable {
        &self.0
    }
}

/// The controller's view of its PCI function while a data path runs.
struct PciXhciBus<'a> {
    state: &'a XhciState,
    pci: &'a PciDevice,
}

impl XhciBus for PciXhciBus<'_> {
    fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        self.pci.bus_dma_read(addr, buf).map_err(|e| e.to_string())
    }

    fn dma_write(&self, addr: u64, data: &[u8]) -> Result<(), String> {
        self.pci
            .bus_dma_write(addr, data)
            .map_err(|e| e.to_string())
    }

    fn device(&self, uport: usize) -> Option<Owned<UsbDevice>> {
        self.state.bus.get()?.device(uport)
    }

    /// QEMU's `xhci_pci_intr_raise`: MSI-X when enabled, else INTA# for
    /// interrupter 0.
    fn interrupt(&self, vector: usize, level: bool) -> bool {
        if self.state.msix.enabled(self.pci) {
            if level {
                self.state.msix.notify(self.pci, vector);
            }
            return true;
        }
        if vector == 0 {
            self.pci.set_irq(level);
        }
        false
    }
}

impl XhciState {
    /// Counts `MFINDEX` and moderation intervals on `clock` (a machine's
    /// virtual clock). Set once, when the controller is plugged.
    pub fn set_clock(&self, clock: VirtualClock) {
        let _ = self.clock.set(clock);
    }

    /// Runs `f` with the controller's registers and its data path, if the
    /// PCI function is still alive; else `f` gets `None` for the bus.
    fn with_bus<R>(&self, f: impl FnOnce(&XhciRegs, Option<&dyn XhciBus>) -> R) -> Option<R> {
        let regs = self.regs.get()?;
        if BUSY.with(Cell::get) {
            tracing::debug!(target: "xhci", "access to BAR 0 from the controller's own DMA refused");
            return None;
        }
        if let Some(clock) = self.clock.get() {
            regs.set_time(clock.now_ns());
        }
        // The strong reference that keeps the function alive for the
        // whole data path; `None` once it has begun finalizing.
        let pci = self.container::<XhciPci>();
        BUSY.with(|b| b.set(true));
        let result = match &pci {
            Some(pci) => {
                let bus = PciXhciBus {
                    state: self,
                    pci: pci.upcast(),
                };
                f(regs, Some(&bus))
            }
            None => f(regs, None),
        };
        BUSY.with(|b| b.set(false));
        self.arm_moderation(regs);
        Some(result)
    }

    /// If moderation holds an interrupt back, raises it when its interval
    /// ends: a one-shot timer thread that holds the controller for at
    /// most the interval (`IMODI` is at most 16.4 ms).
    fn arm_moderation(&self, regs: &XhciRegs) {
        let (Some(deadline), Some(clock)) = (regs.moderation_deadline(), self.clock.get()) else {
            return;
        };
        if self.moderation_armed.swap(true, Ordering::AcqRel) {
            return;
        }
        let armed_at = clock.now_ns();
        let wait = Duration::from_nanos(deadline.saturating_sub(armed_at));
        let (me, clock) = (Owned::from(self), clock.clone());
        let spawned = std::thread::Builder::new()
            .name("xhci-imod".into())
            .spawn(move || {
                // A clock that stands still (no guest running, or paused)
                // makes nothing due: wait a little longer, then leave it
                // to the next access, which arms the timer again.
                let started = std::time::Instant::now();
                loop {
                    std::thread::sleep(wait.max(Duration::from_micros(100)));
                    if clock.now_ns() != armed_at || started.elapsed() > Duration::from_millis(100)
                    {
                        break;
                    }
                }
                me.moderation_armed.store(false, Ordering::Release);
                if clock.now_ns() == armed_at {
                    return;
                }
                me.with_bus(|regs, bus| {
                    if let Some(bus) = bus {
                        regs.poll(bus);
                    }
                });
            });
        if let Err(e) = spawned {
            self.moderation_armed.store(false, Ordering::Release);
            tracing::warn!(target: "xhci", error = %e, "no moderation timer: the interrupt waits for the next access");
        }
    }

    fn root_port(&self, device: &UsbDevice) -> Option<(usize, usize)> {
        let bus = self.bus.get()?;
        let regs = self.regs.get()?;
        let uport = (0..bus.len()).find(|&u| {
            bus.device(u)
                .is_some_and(|d| std::ptr::eq(d.header(), device.header()))
        })?;
        Some((uport, regs.root_port(uport, device.speed()?)?))
    }

    /// Connects a realized USB device to a free port, with a port status
    /// change event.
    pub fn attach(&self, device: &UsbDevice) -> Result<(), String> {
        let bus = self.bus.get().ok_or("the controller is not realized")?;
        let regs = self.regs.get().ok_or("the controller is not realized")?;
        // The hook holds the controller: `detach` (and the controller's
        // unrealize or unplug, through `detach_all`) drops it again.
        let me = Owned::from(self);
        let (uport, speed) = bus.attach(device, |uport, speed| {
            Arc::new(move || {
                let port = me.regs.get().and_then(|r| r.root_port(uport, speed));
                if let Some(port) = port {
                    me.with_bus(|regs, bus| bus.map(|bus| regs.wake(port, bus)));
                }
            })
        })?;
        let Some(port) = regs.root_port(uport, speed) else {
            bus.detach(device);
            return Err(format!(
                "USB bus port {} has no root port for {speed:?}",
                uport + 1
            ));
        };
        self.with_bus(|regs, bus| regs.attach_with(port, Some(speed), bus.unwrap_or(&NO_BUS)));
        Ok(())
    }

    /// Disconnects a USB device, with a port status change event; its
    /// waiting transfers are dropped.
    pub fn detach(&self, device: &UsbDevice) -> Result<(), String> {
        let bus = self.bus.get().ok_or("the controller is not realized")?;
        let (_, port) = self
            .root_port(device)
            .ok_or("the device is not on this bus")?;
        bus.detach(device);
        self.with_bus(|regs, bus| regs.attach_with(port, None, bus.unwrap_or(&NO_BUS)));
        Ok(())
    }

    /// Disconnects every device (the controller is going away) and hands
    /// them back.
    pub fn detach_all(&self) -> Vec<Owned<UsbDevice>> {
        let Some(bus) = self.bus.get() else {
            return Vec::new();
        };
        let devices: Vec<_> = (0..bus.len()).filter_map(|u| bus.device(u)).collect();
        for device in &devices {
            let _ = self.detach(device);
        }
        devices
    }
}

/// The bus of a controller whose function is gone: no memory, no devices.
struct NoBus;
static NO_BUS: NoBus = NoBus;

impl XhciBus for NoBus {
    fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        buf.fill(0xff);
        Err(format!("no bus at {addr:#x}"))
    }
    fn dma_write(&self, addr: u64, _data: &[u8]) -> Result<(), String> {
        Err(format!("no bus at {addr:#x}"))
    }
    fn device(&self, _uport: usize) -> Option<Owned<UsbDevice>> {
        None
    }
    fn interrupt(&self, _vector: usize, _level: bool) -> bool {
        false
    }
}

impl MmioOps for XhciState {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        match offset {
            MSIX_TABLE..MSIX_PBA => self.msix.read_table(offset - MSIX_TABLE).into(),
            MSIX_PBA.. => self.msix.read_pba(offset - MSIX_PBA).into(),
            // A DMA of this thread's data path reading a controller's
            // registers: the state is locked here, so refuse it (all
            // ones, as an unassigned read) rather than deadlock.
            _ if BUSY.with(Cell::get) => {
                tracing::debug!(target: "xhci", offset, "BAR 0 read from the controller's own DMA refused");
                u64::MAX >> (64 - 8 * size.min(8))
            }
            _ => self.regs.get().map_or(0, |r| r.read(offset, size)),
        }
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        if offset >= MSIX_TABLE {
            if let (MSIX_TABLE..MSIX_PBA, Some(pci)) = (offset, self.container::<XhciPci>()) {
                self.msix
                    .write_table(pci.upcast(), offset - MSIX_TABLE, value as u32);
            }
            return;
        }
        self.with_bus(|regs, bus| regs.write_with(offset, size, value, bus.unwrap_or(&NO_BUS)));
    }
}

/// QEMU's `qemu-xhci`: a PCI function embedding the controller state.
#[derive(QomObject)]
#[qom(name = "xhci-pci", interfaces(UsbHost, ComputedProperties))]
pub struct XhciPci {
    parent: ParentField<PciDevice>,
    /// The controller, in this allocation; owns BAR 0's region. Named
    /// `xhci-core` in the tree, as QEMU's `object_initialize_child`
    /// names it (its path keys its migration section).
    #[child(embedded, name = "xhci-core")]
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

/// The PCI function's, then `streams`: QEMU's `qemu-xhci` property,
/// read-only here at its default (the controller advertises streams in
/// `HCCPARAMS1` as QEMU's does with `streams=on`).
impl ComputedProperties for XhciPci {
    fn computed_properties(&self) -> Vec<ComputedProperty> {
        let mut all = self.parent.computed_properties();
        all.push(ComputedProperty::new("streams", "stream support", true));
        all
    }
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
        // The PCI part: configuration header from the class, then what
        // `usb_xhci_pci_realize` adds.
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        self.parent.config_init(|config| {
            config.set(0x60, 1, 0x30); // SBRN: USB 3.0
            msix::add_capability(
                config,
                MSIX_CAP,
                xhci::MAX_INTRS as u16,
                0,
                MSIX_TABLE as u32,
                MSIX_PBA as u32,
            );
        });
        Ok(())
    }

    /// QEMU's bus unplug: the devices on the controller's bus go with it.
    fn unrealize(&self) {
        self.remove_devices();
        <PciDevice as DeviceImpl>::unrealize(&self.parent);
    }
}

impl XhciPci {
    /// Unplugs the devices on the controller's bus: detached, unrealized
    /// and taken out of the tree (QEMU's `qbus_unrealize` of the bus
    /// children). Their wake-up hooks back to the controller go with them.
    pub fn remove_devices(&self) {
        for device in self.xhci.detach_all() {
            device.upcast::<Device>().unrealize();
            device.unparent();
        }
    }
}

impl UsbHost for XhciPci {
    fn usb_attach(&self, device: &UsbDevice) -> Result<(), String> {
        self.xhci.attach(device)
    }

    fn usb_detach(&self, device: &UsbDevice) -> Result<(), String> {
        self.xhci.detach(device)
    }

    fn usb_bus(&self) -> Option<&UsbBus> {
        self.xhci.bus.get()
    }
}

impl PciDeviceImpl for XhciPci {
    const VENDOR_ID: u16 = xhci::PCI_VENDOR_ID;
    const DEVICE_ID: u16 = xhci::PCI_DEVICE_ID;
    const CLASS_CODE: u32 = xhci::PCI_CLASS_CODE;
    const REVISION: u8 = xhci::PCI_REVISION;
    /// `usb_xhci_pci_realize`: `pcie_endpoint_cap_init(dev, 0xa0)` on a
    /// PCI Express bus (`virt`'s), after MSI-X at 0x90 in the list.
    const EXPRESS_CAP: Option<usize> = Some(0xa0);

    /// QEMU's `msix_write_config`: unmasking the function (or enabling
    /// MSI-X) sends the messages pending meanwhile.
    fn config_written(&self, offset: usize, size: usize) {
        let control = MSIX_CAP + 2;
        if offset < control + 2 && control < offset + size {
            self.xhci.msix.deliver_pending(self.upcast());
        }
    }

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        // `usb_xhci_pci_realize`: BAR 0 is 64-bit memory
        // (PCI_BASE_ADDRESS_MEM_TYPE_64), so BAR 1 holds its high dword.
        (index == 0).then_some(PciBar {
            region: &self.xhci.mem,
            kind: BarKind::Memory64,
        })
    }
}

/// `qemu-xhci`, QEMU 7.2's type name for the same controller
/// (`hw/usb/hcd-xhci-pci.c` registers `qemu-xhci` under the abstract
/// `pci-xhci`): a subtype of [`XhciPci`] with nothing of its own, so
/// `-device qemu-xhci` builds what QEMU's does and everything written for
/// `xhci-pci` (the name `qom` used first, kept for its scripts and tests)
/// applies to it.
#[derive(QomObject)]
#[qom(name = "qemu-xhci", interfaces(UsbHost))]
pub struct QemuXhci {
    parent: ParentField<XhciPci>,
}

impl ObjectImpl for QemuXhci {}

impl DeviceImpl for QemuXhci {
    const HOTPLUGGABLE: bool = true;
    const DESCRIPTION: &'static str = "xHCI USB controller (QEMU's type name for xhci-pci)";
}

impl UsbHost for QemuXhci {
    fn usb_attach(&self, device: &UsbDevice) -> Result<(), String> {
        self.parent.usb_attach(device)
    }

    fn usb_detach(&self, device: &UsbDevice) -> Result<(), String> {
        self.parent.usb_detach(device)
    }

    fn usb_bus(&self) -> Option<&UsbBus> {
        self.parent.usb_bus()
    }
}

impl PciDeviceImpl for QemuXhci {
    const VENDOR_ID: u16 = XhciPci::VENDOR_ID;
    const DEVICE_ID: u16 = XhciPci::DEVICE_ID;
    const CLASS_CODE: u32 = XhciPci::CLASS_CODE;
    const REVISION: u8 = XhciPci::REVISION;
    const EXPRESS_CAP: Option<usize> = XhciPci::EXPRESS_CAP;

    fn config_written(&self, offset: usize, size: usize) {
        self.parent.config_written(offset, size);
    }

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        self.parent.bar(index)
    }
}

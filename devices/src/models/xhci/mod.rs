//! xHCI controller MMIO registers (BAR 0), after QEMU's `hw/usb/hcd-xhci.c`
//! as `qemu-xhci` configures it.
//!
//! The 16 KiB BAR has QEMU's layout: capability registers at 0
//! ([`CAP_LENGTH`] bytes), operational registers at [`OPER_BASE`], one
//! `PORTSC`/`PORTPMSC`/`PORTLI`/`PORTHLPMC` block per root port at
//! [`PORT_BASE`] + [`PORT_STRIDE`] × n, runtime registers (`MFINDEX` and
//! [`MAX_INTRS`] interrupters) at [`RUNTIME_BASE`] and the doorbell array at
//! [`DOORBELL_BASE`]. Offsets outside these read 0 and ignore writes.
//!
//! Modelled as QEMU does: `USBCMD` run/stop drives `USBSTS.HCH`; `HCRST`
//! resets the operational, port and runtime registers and reads back as 0;
//! the `USBSTS` and `PORTSC` change bits are write-1-to-clear; `PORTSC`
//! powers up with `PP` set and, as QEMU's reset leaves it, `CSC` set and
//! the link in `RxDetect`; port reset and link state writes behave as in
//! QEMU for devices attached with [`XhciRegs::attach`]; `CRCR`, `DCBAAP`,
//! `ERSTBA`, `ERDP` keep QEMU's alignment masks; `MFINDEX` counts 125 µs
//! microframes of the virtual time given to [`XhciRegs::advance`].
//!
//! The data path reaches guest memory and USB devices through an
//! [`XhciBus`] given to each access ([`XhciRegs::write_with`]): the
//! command ring ([`command`]), transfer rings ([`transfer`]), the event
//! ring of interrupter 0 with its interrupt ([`event`]), device and
//! endpoint contexts ([`context`]). Port status change events go to the
//! event ring while the controller runs. Not modelled: isochronous
//! transfers (a TRB error), streams, `MFINDEX` wrap events, interrupters
//! other than 0 receiving events, save/restore state (`CSS`/`CRS`
//! report `SRE`). `MaxPorts` is the sum of the constructor's USB 3
//! and USB 2 port counts; the Supported Protocol capabilities list the
//! USB 3 ports first, then the USB 2 ones, as `qemu-xhci` does (whose
//! defaults, `p3=4,p2=4`, SeaBIOS reports as "8 ports", USB 3 at offset 1,
//! USB 2 at offset 5). Every port accepts a device of any speed; QEMU
//! pairs USB 2 and USB 3 ports.
//! MSI/MSI-X belong to the PCI function: [`XhciBus::interrupt`] decides
//! whether an interrupt is a message or the pin.
//!
//! Access sizes: 4-byte registers; 8-byte accesses are split into two
//! dwords, narrower reads return the addressed byte lanes (a 16-bit read of
//! `HCIVERSION` at offset 2 works), narrower writes are ignored (QEMU's
//! `valid.min_access_size = 4`; capability registers are read-only anyway).

use super::{lock, read_sized, write_sized, UsbSpeed};
use crate::usb::UsbDevice;
use qom_rt::Owned;
use std::sync::Mutex;

pub mod command;
pub mod context;
#[cfg(test)]
mod datapath_tests;
pub mod event;
mod migrate;
pub use migrate::{InterrupterState, SlotState, XhciSnapshot};
mod port;
mod regs;
pub mod ring;
#[cfg(test)]
mod tests;
pub mod transfer;
pub mod trb;

/// What the controller reaches through its PCI function: guest memory
/// (DMA), the devices on its USB bus, and its interrupt. Called with the
/// controller's state locked: an implementation must not access the
/// controller's registers.
pub trait XhciBus {
    /// Reads guest memory at `addr`.
    fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String>;
    /// Writes guest memory at `addr`.
    fn dma_write(&self, addr: u64, data: &[u8]) -> Result<(), String>;
    /// The device in USB bus port `uport` (0-based; QEMU's `uports[]`).
    fn device(&self, uport: usize) -> Option<Owned<UsbDevice>>;
    /// Interrupter `vector` asserts (`level`) or deasserts its interrupt.
    /// Returns true if it went out as a message (MSI-X), which leaves
    /// nothing pending.
    fn interrupt(&self, vector: usize, level: bool) -> bool;
}

/// A bus with no memory and no devices: what the register-only entry
/// points use.
struct NoBus;

impl XhciBus for NoBus {
    fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        buf.fill(0xff);
        Err(format!("no memory at {addr:#x}"))
    }
    fn dma_write(&self, addr: u64, _data: &[u8]) -> Result<(), String> {
        Err(format!("no memory at {addr:#x}"))
    }
    fn device(&self, _uport: usize) -> Option<Owned<UsbDevice>> {
        None
    }
    fn interrupt(&self, _vector: usize, _level: bool) -> bool {
        false
    }
}

use regs::State;

/// PCI vendor ID of `qemu-xhci` (Red Hat).
pub const PCI_VENDOR_ID: u16 = 0x1b36;
/// PCI device ID of `qemu-xhci`.
pub const PCI_DEVICE_ID: u16 = 0x000d;
/// PCI class code: serial bus, USB, xHCI programming interface.
pub const PCI_CLASS_CODE: u32 = 0x0c_03_30;
/// PCI revision of `qemu-xhci`.
pub const PCI_REVISION: u8 = 0x01;

/// Size of BAR 0.
pub const BAR_SIZE: u64 = 0x4000;
/// Length of the capability registers (`CAPLENGTH`).
pub const CAP_LENGTH: u64 = 0x40;
/// Start of the operational registers.
pub const OPER_BASE: u64 = CAP_LENGTH;
/// Start of the port register sets (operational base + 0x400).
pub const PORT_BASE: u64 = OPER_BASE + 0x400;
/// Size of one port register set.
pub const PORT_STRIDE: u64 = 0x10;
/// Start of the runtime registers (`RTSOFF`).
pub const RUNTIME_BASE: u64 = 0x1000;
/// Start of the doorbell array (`DBOFF`).
pub const DOORBELL_BASE: u64 = 0x2000;

/// Device slots (`MaxSlots`).
pub const MAX_SLOTS: u32 = 64;
/// Interrupters (`MaxIntrs`).
pub const MAX_INTRS: usize = 16;
/// Most root ports a controller can have.
pub const MAX_PORTS: u32 = 15;

/// Capability register: `CAPLENGTH` (byte 0) and `HCIVERSION` (bytes 2-3).
pub const CAPLENGTH_HCIVERSION: u64 = 0x00;
/// Capability register: structural parameters 1.
pub const HCSPARAMS1: u64 = 0x04;
/// Capability register: structural parameters 2.
pub const HCSPARAMS2: u64 = 0x08;
/// Capability register: structural parameters 3.
pub const HCSPARAMS3: u64 = 0x0c;
/// Capability register: capability parameters 1.
pub const HCCPARAMS1: u64 = 0x10;
/// Capability register: doorbell offset.
pub const DBOFF: u64 = 0x14;
/// Capability register: runtime register space offset.
pub const RTSOFF: u64 = 0x18;

/// Operational register (from [`OPER_BASE`]): USB command.
pub const USBCMD: u64 = 0x00;
/// Operational register: USB status.
pub const USBSTS: u64 = 0x04;
/// Operational register: page size (reads 1: 4 KiB pages).
pub const PAGESIZE: u64 = 0x08;
/// Operational register: device notification control.
pub const DNCTRL: u64 = 0x14;
/// Operational register: command ring control, low dword.
pub const CRCR: u64 = 0x18;
/// Operational register: device context base address array pointer, low.
pub const DCBAAP: u64 = 0x30;
/// Operational register: configure.
pub const CONFIG: u64 = 0x38;

/// `USBCMD`: run/stop.
pub const USBCMD_RS: u32 = 1 << 0;
/// `USBCMD`: host controller reset.
pub const USBCMD_HCRST: u32 = 1 << 1;
/// `USBCMD`: interrupter enable.
pub const USBCMD_INTE: u32 = 1 << 2;
/// `USBCMD`: controller save state.
pub const USBCMD_CSS: u32 = 1 << 8;
/// `USBCMD`: controller restore state.
pub const USBCMD_CRS: u32 = 1 << 9;
/// `USBCMD`: enable MFINDEX wrap event.
pub const USBCMD_EWE: u32 = 1 << 10;

/// `USBSTS`: host controller halted.
pub const USBSTS_HCH: u32 = 1 << 0;
/// `USBSTS`: host system error.
pub const USBSTS_HSE: u32 = 1 << 2;
/// `USBSTS`: event interrupt.
pub const USBSTS_EINT: u32 = 1 << 3;
/// `USBSTS`: port change detect.
pub const USBSTS_PCD: u32 = 1 << 4;
/// `USBSTS`: save/restore error.
pub const USBSTS_SRE: u32 = 1 << 10;
/// `USBSTS`: host controller error.
pub const USBSTS_HCE: u32 = 1 << 12;

/// `PORTSC`: current connect status.
pub const PORTSC_CCS: u32 = 1 << 0;
/// `PORTSC`: port enabled.
pub const PORTSC_PED: u32 = 1 << 1;
/// `PORTSC`: port reset.
pub const PORTSC_PR: u32 = 1 << 4;
/// `PORTSC`: port link state field shift (4 bits).
pub const PORTSC_PLS_SHIFT: u32 = 5;
/// `PORTSC`: port power.
pub const PORTSC_PP: u32 = 1 << 9;
/// `PORTSC`: port speed field shift (4 bits).
pub const PORTSC_SPEED_SHIFT: u32 = 10;
/// `PORTSC`: link state write strobe.
pub const PORTSC_LWS: u32 = 1 << 16;
/// `PORTSC`: connect status change.
pub const PORTSC_CSC: u32 = 1 << 17;
/// `PORTSC`: port enabled/disabled change.
pub const PORTSC_PEC: u32 = 1 << 18;
/// `PORTSC`: warm port reset change.
pub const PORTSC_WRC: u32 = 1 << 19;
/// `PORTSC`: over-current change.
pub const PORTSC_OCC: u32 = 1 << 20;
/// `PORTSC`: port reset change.
pub const PORTSC_PRC: u32 = 1 << 21;
/// `PORTSC`: port link state change.
pub const PORTSC_PLC: u32 = 1 << 22;
/// `PORTSC`: port config error change.
pub const PORTSC_CEC: u32 = 1 << 23;
/// `PORTSC`: wake on connect enable.
pub const PORTSC_WCE: u32 = 1 << 25;
/// `PORTSC`: wake on disconnect enable.
pub const PORTSC_WDE: u32 = 1 << 26;
/// `PORTSC`: wake on over-current enable.
pub const PORTSC_WOE: u32 = 1 << 27;
/// `PORTSC`: warm port reset.
pub const PORTSC_WPR: u32 = 1 << 31;

/// Link state `U0` (active).
pub const PLS_U0: u32 = 0;
/// Link state `U3` (suspended).
pub const PLS_U3: u32 = 3;
/// Link state `RxDetect` (no device).
pub const PLS_RX_DETECT: u32 = 5;
/// Link state `Polling` (USB 2 device waiting for reset).
pub const PLS_POLLING: u32 = 7;
/// Link state `Resume`.
pub const PLS_RESUME: u32 = 15;

/// Interrupter register (from the interrupter's base): management.
pub const IMAN: u64 = 0x00;
/// Interrupter register: moderation.
pub const IMOD: u64 = 0x04;
/// Interrupter register: event ring segment table size.
pub const ERSTSZ: u64 = 0x08;
/// Interrupter register: event ring segment table base, low dword.
pub const ERSTBA: u64 = 0x10;
/// Interrupter register: event ring dequeue pointer, low dword.
pub const ERDP: u64 = 0x18;
/// `IMAN`: interrupt pending.
pub const IMAN_IP: u32 = 1 << 0;
/// `IMAN`: interrupt enable.
pub const IMAN_IE: u32 = 1 << 1;
/// `ERDP`: event handler busy.
pub const ERDP_EHB: u32 = 1 << 3;
/// `CRCR`: command ring running.
pub const CRCR_CRR: u32 = 1 << 3;

/// The xHCI BAR 0 register file. Cheap to share: all methods take `&self`.
pub struct XhciRegs {
    state: Mutex<State>,
}

impl XhciRegs {
    /// A halted controller with `num_ports` root ports (clamped to
    /// 1..=[`MAX_PORTS`]), in its reset state.
    pub fn new(num_ports: u32) -> Self {
        XhciRegs::with_usb2(num_ports, 0)
    }

    /// A halted controller with `usb3_ports` USB 3 root ports followed by
    /// `usb2_ports` USB 2 ones (at most [`MAX_PORTS`] in all, at least 1).
    pub fn with_usb2(usb3_ports: u32, usb2_ports: u32) -> Self {
        let total = usb3_ports.saturating_add(usb2_ports).clamp(1, MAX_PORTS);
        XhciRegs {
            state: Mutex::new(State::new(total, usb2_ports.min(total))),
        }
    }

    /// Number of root ports (`MaxPorts`).
    pub fn num_ports(&self) -> u32 {
        lock(&self.state).num_ports
    }

    /// Cold reset, the same as `USBCMD.HCRST` (QEMU's `xhci_reset`).
    /// Attached devices stay attached.
    pub fn reset(&self) {
        lock(&self.state).reset();
    }

    /// A guest read of `size` bytes at `offset` in BAR 0.
    pub fn read(&self, offset: u64, size: u32) -> u64 {
        let state = lock(&self.state);
        read_sized(offset, size, 4, |reg| u64::from(state.read(reg)))
    }

    /// A guest write of `size` bytes at `offset` in BAR 0, with no DMA
    /// (see [`XhciRegs::write_with`]). Writes narrower than 4 bytes are
    /// ignored.
    pub fn write(&self, offset: u64, size: u32, value: u64) {
        self.write_with(offset, size, value, &NoBus);
    }

    /// A guest write of `size` bytes at `offset` in BAR 0; doorbells and
    /// ring registers reach memory and devices through `bus`.
    pub fn write_with(&self, offset: u64, size: u32, value: u64, bus: &dyn XhciBus) {
        if size < 4 {
            tracing::debug!(target: "xhci", offset, size, "narrow write ignored");
            return;
        }
        let mut state = lock(&self.state);
        write_sized(offset, size, value, 4, |reg, v| {
            state.write(reg, v as u32, bus)
        });
        state.flush(bus);
    }

    /// Level of the pin interrupt (INTx): interrupter 0 pending and
    /// enabled, with `USBCMD.INTE` set (QEMU's `xhci_intr_update`).
    pub fn irq_level(&self) -> bool {
        lock(&self.state).irq_level()
    }

    /// Moves virtual time forward by `ns` nanoseconds (drives `MFINDEX`
    /// and interrupt moderation).
    pub fn advance(&self, ns: u64) {
        let mut state = lock(&self.state);
        state.now_ns = state.now_ns.saturating_add(ns);
    }

    /// When an interrupt that moderation holds back is due (virtual time,
    /// as [`XhciRegs::set_time`] takes it); call [`XhciRegs::poll`] then.
    pub fn moderation_deadline(&self) -> Option<u64> {
        lock(&self.state).moderation_deadline()
    }

    /// Delivers what is due: queued port events, and an interrupt
    /// moderation held whose interval has passed.
    pub fn poll(&self, bus: &dyn XhciBus) {
        lock(&self.state).flush(bus);
    }

    /// Sets virtual time to `ns` if that is later than the controller's.
    pub fn set_time(&self, ns: u64) {
        let mut state = lock(&self.state);
        state.now_ns = state.now_ns.max(ns);
    }

    /// Connects a device of `speed` to root port `port` (0-based; port
    /// number `port + 1`). Returns false for a port the controller lacks.
    pub fn attach(&self, port: usize, speed: UsbSpeed) -> bool {
        self.attach_with(port, Some(speed), &NoBus)
    }

    /// Disconnects the device on root port `port` (0-based), if any.
    pub fn detach(&self, port: usize) {
        self.attach_with(port, None, &NoBus);
    }

    /// Connects (`Some`) or disconnects (`None`) a device on root port
    /// `port` (0-based), with a port status change event through `bus`
    /// while running. A disconnect ends the slots on that port: their
    /// endpoints stop, and a TD waiting on the device is dropped.
    pub fn attach_with(&self, port: usize, speed: Option<UsbSpeed>, bus: &dyn XhciBus) -> bool {
        let mut state = lock(&self.state);
        let done = state.attach(port, speed);
        if speed.is_none() {
            state.port_gone(port);
        }
        state.flush(bus);
        done
    }

    /// The root port (0-based) a device on USB bus port `uport` uses at
    /// `speed`: USB 3 ports come first and take SuperSpeed devices, USB
    /// 2 ports follow (QEMU's `qemu-xhci` with `SS_FIRST`).
    pub fn root_port(&self, uport: usize, speed: UsbSpeed) -> Option<usize> {
        let state = lock(&self.state);
        let usb3 = (state.num_ports - state.usb2_ports) as usize;
        match speed {
            UsbSpeed::Super => (uport < usb3).then_some(uport),
            _ => (uport < state.usb2_ports as usize).then_some(usb3 + uport),
        }
    }

    /// The speeds USB bus port `uport` (0-based) accepts.
    pub fn uport_speeds(&self, uport: usize) -> &'static [UsbSpeed] {
        let state = lock(&self.state);
        let usb3 = (state.num_ports - state.usb2_ports) as usize;
        let usb2 = state.usb2_ports as usize;
        match (uport < usb2, uport < usb3) {
            (true, true) => &[
                UsbSpeed::Low,
                UsbSpeed::Full,
                UsbSpeed::High,
                UsbSpeed::Super,
            ],
            (true, false) => &[UsbSpeed::Low, UsbSpeed::Full, UsbSpeed::High],
            (false, true) => &[UsbSpeed::Super],
            (false, false) => &[],
        }
    }

    /// Number of USB bus ports: one per USB 2/USB 3 root port pair.
    pub fn num_uports(&self) -> usize {
        let state = lock(&self.state);
        (state.num_ports - state.usb2_ports).max(state.usb2_ports) as usize
    }

    /// The device on root port `port` (0-based) has data: retry its
    /// waiting transfers (QEMU's `xhci_wakeup_endpoint`).
    pub fn wake(&self, port: usize, bus: &dyn XhciBus) {
        let mut state = lock(&self.state);
        if state.running() {
            state.wake_port(bus, port);
        }
        state.flush(bus);
    }
}

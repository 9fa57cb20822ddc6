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
//! Not modelled, because this is a register file without DMA: command,
//! transfer and event rings. Doorbell writes are accepted and traced (the
//! command doorbell sets `CRCR.CRR` as in QEMU), the event ring segment
//! table is validated but never fetched, and port status change events,
//! command completions and `MFINDEX` wrap events are traced instead of
//! written to an event ring — so `IMAN.IP` and `USBSTS.EINT` are only ever
//! cleared by the guest. `MaxPorts` is the sum of the constructor's USB 3
//! and USB 2 port counts; the Supported Protocol capabilities list the
//! USB 3 ports first, then the USB 2 ones, as `qemu-xhci` does (whose
//! defaults, `p3=4,p2=4`, SeaBIOS reports as "8 ports", USB 3 at offset 1,
//! USB 2 at offset 5). Every port accepts a device of any speed; QEMU
//! pairs USB 2 and USB 3 ports.
//! MSI/MSI-X belong to the PCI function, not to this register file.
//!
//! Access sizes: 4-byte registers; 8-byte accesses are split into two
//! dwords, narrower reads return the addressed byte lanes (a 16-bit read of
//! `HCIVERSION` at offset 2 works), narrower writes are ignored (QEMU's
//! `valid.min_access_size = 4`; capability registers are read-only anyway).

use super::{lock, read_sized, write_sized, UsbSpeed};
use std::sync::Mutex;

mod port;
mod regs;
#[cfg(test)]
mod tests;

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

    /// A guest write of `size` bytes at `offset` in BAR 0. Writes narrower
    /// than 4 bytes are ignored.
    pub fn write(&self, offset: u64, size: u32, value: u64) {
        if size < 4 {
            tracing::debug!(target: "xhci", offset, size, "narrow write ignored");
            return;
        }
        let mut state = lock(&self.state);
        write_sized(offset, size, value, 4, |reg, v| state.write(reg, v as u32));
    }

    /// Level of the pin interrupt (INTx): interrupter 0 pending and
    /// enabled, with `USBCMD.INTE` set (QEMU's `xhci_intr_update`).
    pub fn irq_level(&self) -> bool {
        lock(&self.state).irq_level()
    }

    /// Moves virtual time forward by `ns` nanoseconds (drives `MFINDEX`).
    pub fn advance(&self, ns: u64) {
        let mut state = lock(&self.state);
        state.now_ns = state.now_ns.saturating_add(ns);
    }

    /// Connects a device of `speed` to root port `port` (0-based; port
    /// number `port + 1`). Returns false for a port the controller lacks.
    pub fn attach(&self, port: usize, speed: UsbSpeed) -> bool {
        lock(&self.state).attach(port, Some(speed))
    }

    /// Disconnects the device on root port `port` (0-based), if any.
    pub fn detach(&self, port: usize) {
        lock(&self.state).attach(port, None);
    }
}

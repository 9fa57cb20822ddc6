//! The xHCI register state and its capability, operational, runtime and
//! doorbell registers (QEMU's `xhci_*_read`/`xhci_*_write`).

use super::context::Slot;
use super::event::EventRing;
use super::port::Port;
use super::ring::Ring;
use super::*;

const LEN_RUNTIME: u64 = (MAX_INTRS as u64 + 1) * 0x20;
const LEN_DOORBELL: u64 = (MAX_SLOTS as u64 + 1) * 0x20;
/// `HCCPARAMS1`: 64-bit addressing, 256 primary streams, xECP at 0x20.
const HCCPARAMS1_VALUE: u32 = 0x0008_0001 | (7 << 12);
const CRCR_CS: u32 = 1 << 1;
const CRCR_CA: u32 = 1 << 2;
const NS_PER_MICROFRAME: u64 = 125_000;

/// One interrupter's registers.
#[derive(Clone, Copy, Default)]
pub(super) struct Interrupter {
    pub(super) iman: u32,
    pub(super) imod: u32,
    pub(super) erstsz: u32,
    pub(super) erstba_low: u32,
    pub(super) erstba_high: u32,
    pub(super) erdp_low: u32,
    pub(super) erdp_high: u32,
}

/// QEMU's `XHCIState` registers.
pub(super) struct State {
    pub(super) num_ports: u32,
    /// The last `usb2_ports` of the `num_ports` are listed by the USB 2
    /// protocol capability, the others by the USB 3 one (QEMU's
    /// `qemu-xhci` numbers its USB 3 ports first).
    pub(super) usb2_ports: u32,
    pub(super) usbcmd: u32,
    pub(super) usbsts: u32,
    pub(super) dnctrl: u32,
    pub(super) crcr_low: u32,
    pub(super) crcr_high: u32,
    pub(super) dcbaap_low: u32,
    pub(super) dcbaap_high: u32,
    pub(super) config: u32,
    pub(super) ports: [Port; MAX_PORTS as usize],
    pub(super) intr: [Interrupter; MAX_INTRS],
    /// The command ring's consumer state, set by `CRCR` writes.
    pub(super) command_ring: Ring,
    /// Interrupter 0's event ring.
    pub(super) event: EventRing,
    /// Device slots 1..=MAX_SLOTS (index 0 is slot 1).
    pub(super) slots: Box<[Slot; MAX_SLOTS as usize]>,
    /// Port status change events waiting for the next chance to write
    /// them (a port changes under a caller with no DMA at hand).
    pub(super) port_events: Vec<u32>,
    /// Virtual time, advanced by the caller.
    pub(super) now_ns: u64,
    pub(super) mfindex_start: u64,
}

impl State {
    pub(super) fn new(num_ports: u32, usb2_ports: u32) -> Self {
        let mut state = State {
            num_ports,
            usb2_ports: usb2_ports.min(num_ports),
            usbcmd: 0,
            usbsts: USBSTS_HCH,
            dnctrl: 0,
            crcr_low: 0,
            crcr_high: 0,
            dcbaap_low: 0,
            dcbaap_high: 0,
            config: 0,
            ports: std::array::from_fn(|i| Port::new(i as u32 + 1)),
            intr: [Interrupter::default(); MAX_INTRS],
            command_ring: Ring::default(),
            event: EventRing::default(),
            slots: Box::new([Slot::default(); MAX_SLOTS as usize]),
            port_events: Vec::new(),
            now_ns: 0,
            mfindex_start: 0,
        };
        state.reset();
        state
    }

    pub(super) fn running(&self) -> bool {
        self.usbsts & USBSTS_HCH == 0
    }

    /// QEMU's `xhci_reset`.
    pub(super) fn reset(&mut self) {
        if self.running() {
            tracing::debug!(target: "xhci", "reset while running");
        }
        self.usbcmd = 0;
        self.usbsts = USBSTS_HCH;
        self.dnctrl = 0;
        self.crcr_low = 0;
        self.crcr_high = 0;
        self.dcbaap_low = 0;
        self.dcbaap_high = 0;
        self.config = 0;
        for n in 0..self.num_ports as usize {
            self.port_update(n, false);
        }
        self.intr = [Interrupter::default(); MAX_INTRS];
        self.command_ring = Ring::default();
        self.event = EventRing::default();
        *self.slots = [Slot::default(); MAX_SLOTS as usize];
        self.port_events.clear();
        self.mfindex_start = self.now_ns;
        tracing::trace!(target: "xhci", "reset");
    }

    /// Writes the port status change events queued by port changes and
    /// raises an interrupt moderation held back, now that `bus` is here.
    pub(super) fn flush(&mut self, bus: &dyn XhciBus) {
        for portnr in std::mem::take(&mut self.port_events) {
            use super::trb::{cc, kind, Trb};
            self.event(
                bus,
                Trb::event(
                    kind::PORT_STATUS_CHANGE,
                    u64::from(portnr) << 24,
                    cc::SUCCESS,
                    0,
                    0,
                ),
            );
        }
        self.poll_moderation(bus);
    }

    /// The device on root port `port` (0-based), through `bus`.
    pub(super) fn port_device(&self, bus: &dyn XhciBus, port: usize) -> Option<Owned<UsbDevice>> {
        self.ports.get(port)?.device()?;
        let usb3 = (self.num_ports - self.usb2_ports) as usize;
        bus.device(if port < usb3 { port } else { port - usb3 })
    }

    /// The device on root port `port` is gone: TDs waiting on it are
    /// dropped, and the next doorbell of its slots' endpoints completes
    /// with a USB transaction error (and halts the endpoint), so a driver
    /// learns at once rather than by timeout.
    pub(super) fn port_gone(&mut self, port: usize) {
        for slot in self.slots.iter_mut().filter(|s| s.port == Some(port)) {
            for ep in slot.endpoints.iter_mut() {
                ep.waiting = false;
            }
        }
    }

    pub(super) fn irq_level(&self) -> bool {
        let iman = self.intr[0].iman;
        iman & IMAN_IP != 0 && iman & IMAN_IE != 0 && self.usbcmd & USBCMD_INTE != 0
    }

    /// A dword read at `reg` (4-byte aligned) in BAR 0.
    pub(super) fn read(&self, reg: u64) -> u32 {
        let ports_end = PORT_BASE + PORT_STRIDE * u64::from(self.num_ports);
        let value = match reg {
            0..CAP_LENGTH => self.cap_read(reg),
            OPER_BASE..PORT_BASE => self.oper_read(reg - OPER_BASE),
            PORT_BASE.. if reg < ports_end => {
                let n = ((reg - PORT_BASE) / PORT_STRIDE) as usize;
                self.port_read(n, (reg - PORT_BASE) % PORT_STRIDE)
            }
            RUNTIME_BASE.. if reg < RUNTIME_BASE + LEN_RUNTIME => {
                self.runtime_read(reg - RUNTIME_BASE)
            }
            DOORBELL_BASE.. if reg < DOORBELL_BASE + LEN_DOORBELL => 0, // doorbells read as 0
            _ => 0,
        };
        tracing::trace!(target: "xhci", offset = reg, value, "read");
        value
    }

    /// A dword write at `reg` (4-byte aligned) in BAR 0.
    pub(super) fn write(&mut self, reg: u64, value: u32, bus: &dyn XhciBus) {
        tracing::trace!(target: "xhci", offset = reg, value, "write");
        let ports_end = PORT_BASE + PORT_STRIDE * u64::from(self.num_ports);
        match reg {
            0..CAP_LENGTH => {} // capabilities are read-only
            OPER_BASE..PORT_BASE => self.oper_write(reg - OPER_BASE, value, bus),
            PORT_BASE.. if reg < ports_end => {
                let n = ((reg - PORT_BASE) / PORT_STRIDE) as usize;
                self.port_write(n, (reg - PORT_BASE) % PORT_STRIDE, value);
            }
            RUNTIME_BASE.. if reg < RUNTIME_BASE + LEN_RUNTIME => {
                self.runtime_write(reg - RUNTIME_BASE, value, bus)
            }
            DOORBELL_BASE.. if reg < DOORBELL_BASE + LEN_DOORBELL => {
                self.doorbell_write(reg - DOORBELL_BASE, value, bus)
            }
            _ => tracing::debug!(target: "xhci", offset = reg, "write to unassigned offset"),
        }
    }

    fn cap_read(&self, reg: u64) -> u32 {
        let usb2_ports = self.usb2_ports;
        let usb3_ports = self.num_ports - usb2_ports;
        match reg {
            CAPLENGTH_HCIVERSION => 0x0100_0000 | CAP_LENGTH as u32,
            HCSPARAMS1 => (self.num_ports << 24) | ((MAX_INTRS as u32) << 8) | MAX_SLOTS,
            HCSPARAMS2 => 0x0000_000f,
            HCSPARAMS3 => 0,
            HCCPARAMS1 => HCCPARAMS1_VALUE,
            DBOFF => DOORBELL_BASE as u32,
            RTSOFF => RUNTIME_BASE as u32,
            // Extended capabilities: Supported Protocol, USB 2.0 then 3.0.
            0x20 => 0x0200_0402,
            0x24 | 0x34 => 0x2042_5355, // "USB "
            0x28 => (usb2_ports << 8) | (usb3_ports + 1),
            0x30 => 0x0300_0002,
            0x38 => (usb3_ports << 8) | 1,
            _ => 0,
        }
    }

    fn oper_read(&self, reg: u64) -> u32 {
        match reg {
            USBCMD => self.usbcmd,
            USBSTS => self.usbsts,
            PAGESIZE => 1,
            DNCTRL => self.dnctrl,
            CRCR => self.crcr_low & !0xe,
            0x1c => self.crcr_high,
            DCBAAP => self.dcbaap_low,
            0x34 => self.dcbaap_high,
            CONFIG => self.config,
            _ => 0,
        }
    }

    fn oper_write(&mut self, reg: u64, value: u32, bus: &dyn XhciBus) {
        match reg {
            USBCMD => {
                self.write_usbcmd(value);
                self.update_interrupt(bus);
            }
            USBSTS => {
                self.usbsts &= !(value & (USBSTS_HSE | USBSTS_EINT | USBSTS_PCD | USBSTS_SRE))
            }
            DNCTRL => self.dnctrl = value & 0xffff,
            CRCR => self.crcr_low = (value & 0xffff_ffcf) | (self.crcr_low & CRCR_CRR),
            0x1c => self.write_crcr_high(value, bus),
            DCBAAP => self.dcbaap_low = value & 0xffff_ffc0,
            0x34 => self.dcbaap_high = value,
            CONFIG => self.config = value & 0xff,
            _ => tracing::debug!(target: "xhci", offset = reg, "oper write: unimplemented"),
        }
    }

    fn write_usbcmd(&mut self, value: u32) {
        if value & USBCMD_RS != 0 && self.usbcmd & USBCMD_RS == 0 {
            tracing::trace!(target: "xhci", "run");
            self.usbsts &= !USBSTS_HCH;
            self.mfindex_start = self.now_ns;
        } else if value & USBCMD_RS == 0 && self.usbcmd & USBCMD_RS != 0 {
            tracing::trace!(target: "xhci", "stop");
            self.usbsts |= USBSTS_HCH;
            self.crcr_low &= !CRCR_CRR;
        }
        if value & USBCMD_CSS != 0 {
            self.usbsts &= !USBSTS_SRE;
        }
        if value & USBCMD_CRS != 0 {
            // Restoring state is not supported: report a save/restore error.
            self.usbsts |= USBSTS_SRE;
        }
        self.usbcmd = value & 0xc0f;
        if value & USBCMD_HCRST != 0 {
            self.reset();
        }
    }

    fn write_crcr_high(&mut self, value: u32, bus: &dyn XhciBus) {
        self.crcr_high = value;
        if self.crcr_low & (CRCR_CA | CRCR_CS) != 0 && self.crcr_low & CRCR_CRR != 0 {
            self.crcr_low &= !CRCR_CRR;
            tracing::trace!(target: "xhci", "command ring stopped");
            self.command_ring_stopped(bus);
        } else if self.crcr_low & CRCR_CRR == 0 {
            // The pointer moves only while the ring is not running.
            let base = u64::from(self.crcr_low & !0x3f) | (u64::from(value) << 32);
            self.command_ring = Ring::new(base, self.crcr_low & 1 != 0);
            tracing::trace!(target: "xhci", base, "command ring set");
        }
        self.crcr_low &= !(CRCR_CA | CRCR_CS);
    }

    fn mfindex(&self) -> u32 {
        ((self.now_ns.wrapping_sub(self.mfindex_start) / NS_PER_MICROFRAME) & 0x3fff) as u32
    }

    fn runtime_read(&self, reg: u64) -> u32 {
        if reg < 0x20 {
            return if reg == 0 { self.mfindex() } else { 0 };
        }
        let intr = &self.intr[((reg - 0x20) / 0x20) as usize];
        match reg & 0x1f {
            IMAN => intr.iman,
            IMOD => intr.imod,
            ERSTSZ => intr.erstsz,
            ERSTBA => intr.erstba_low,
            0x14 => intr.erstba_high,
            ERDP => intr.erdp_low,
            0x1c => intr.erdp_high,
            _ => 0,
        }
    }

    fn runtime_write(&mut self, reg: u64, value: u32, bus: &dyn XhciBus) {
        if reg < 0x20 {
            tracing::debug!(target: "xhci", offset = reg, "write to read-only MFINDEX ignored");
            return;
        }
        let v = ((reg - 0x20) / 0x20) as usize;
        let intr = &mut self.intr[v];
        match reg & 0x1f {
            IMAN => {
                if value & IMAN_IP != 0 {
                    intr.iman &= !IMAN_IP;
                }
                intr.iman = (intr.iman & !IMAN_IE) | (value & IMAN_IE);
                if v == 0 {
                    self.update_interrupt(bus);
                }
            }
            IMOD => intr.imod = value,
            ERSTSZ => intr.erstsz = value & 0xffff,
            ERSTBA => intr.erstba_low = value & 0xffff_ffc0,
            0x14 => {
                intr.erstba_high = value;
                if v == 0 {
                    self.event_ring_reset(bus);
                } else {
                    // Only interrupter 0 gets events (see `event`).
                    tracing::trace!(target: "xhci", interrupter = v, "event ring set (unused)");
                }
            }
            ERDP => {
                let busy = if value & ERDP_EHB != 0 {
                    0
                } else {
                    intr.erdp_low & ERDP_EHB
                };
                intr.erdp_low = (value & !ERDP_EHB) | busy;
                if v == 0 {
                    self.erdp_written(bus);
                }
            }
            0x1c => intr.erdp_high = value,
            _ => tracing::debug!(target: "xhci", offset = reg, "runtime write: unimplemented"),
        }
    }

    fn doorbell_write(&mut self, reg: u64, value: u32, bus: &dyn XhciBus) {
        tracing::trace!(target: "xhci", offset = reg, value, "doorbell write");
        if !self.running() {
            tracing::debug!(target: "xhci", "doorbell rung while stopped");
            return;
        }
        let slot = reg >> 2;
        let (epid, stream) = (value & 0xff, value >> 16);
        if slot == 0 {
            if value == 0 {
                tracing::trace!(target: "xhci", "command ring doorbell");
                self.run_commands(bus);
            } else {
                tracing::debug!(target: "xhci", value, "bad command doorbell value");
            }
        } else if slot > u64::from(MAX_SLOTS) || epid == 0 || epid > 31 {
            tracing::debug!(target: "xhci", slot, value, "bad doorbell");
        } else {
            tracing::trace!(target: "xhci", slot, epid, stream, "kick endpoint");
            self.kick(bus, slot as usize, epid as usize);
        }
    }
}

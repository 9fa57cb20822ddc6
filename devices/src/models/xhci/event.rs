//! The event ring of interrupter 0 and its interrupt (xHCI 1.2 sections
//! 4.9.4 and 4.17; QEMU's `xhci_er_reset`, `xhci_event`,
//! `xhci_intr_raise`): segments read from the Event Ring Segment Table
//! when `ERSTBA` is written, the producer cycle state, the ring-full
//! rule against `ERDP`, `IMAN.IP`, `ERDP.EHB`, `USBSTS.EINT` and
//! interrupt moderation (`IMOD`).
//!
//! Every event goes to interrupter 0, as QEMU does for `qemu-xhci` with
//! one vector in use. Moderation is kept in the controller's virtual time
//! ([`XhciRegs::advance`]): an interrupt due inside the `IMODI` interval
//! after the previous one is held, and raised once the interval has
//! passed, at the controller's next activity or when its owner calls
//! [`XhciRegs::poll`] at [`XhciRegs::moderation_deadline`].

use super::regs::State;
use super::trb::{cc, kind, Trb, CYCLE};
use super::*;

/// One segment: base address and size in TRBs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Segment {
    pub(super) base: u64,
    pub(super) size: u32,
}

/// The producer side of an event ring.
#[derive(Clone, Debug, Default)]
pub(super) struct EventRing {
    pub(super) segments: Vec<Segment>,
    pub(super) segment: usize,
    pub(super) index: u32,
    pub(super) pcs: bool,
    /// An Event Ring Full event was written: nothing more until the
    /// driver moves `ERDP`.
    pub(super) full: bool,
    /// An interrupt held back by moderation.
    pub(super) held: bool,
    pub(super) last_interrupt_ns: Option<u64>,
}

impl EventRing {
    fn enqueue_addr(&self) -> Option<u64> {
        let seg = self.segments.get(self.segment)?;
        Some(seg.base + 16 * u64::from(self.index))
    }

    /// The slot after the enqueue pointer (wrapping segments and cycle).
    fn advanced(&self) -> (usize, u32, bool) {
        let size = self.segments[self.segment].size;
        if self.index + 1 < size {
            (self.segment, self.index + 1, self.pcs)
        } else if self.segment + 1 < self.segments.len() {
            (self.segment + 1, 0, self.pcs)
        } else {
            (0, 0, !self.pcs)
        }
    }
}

/// Most segments read from a table (HCSPARAMS2's ERST Max is 2^0 = 1, as
/// QEMU's; the reader handles more).
const MAX_SEGMENTS: u32 = 1;

impl State {
    /// QEMU's `xhci_er_reset`: reads the segment table after `ERSTBA`.
    pub(super) fn event_ring_reset(&mut self, bus: &dyn XhciBus) {
        let intr = self.intr[0];
        let erstba = u64::from(intr.erstba_low) | (u64::from(intr.erstba_high) << 32);
        self.event = EventRing {
            pcs: true,
            ..EventRing::default()
        };
        if intr.erstsz == 0 || erstba == 0 {
            tracing::trace!(target: "xhci", "event ring disabled");
            return;
        }
        if intr.erstsz > MAX_SEGMENTS {
            tracing::debug!(target: "xhci", erstsz = intr.erstsz, "ERSTSZ above ERST Max");
            self.usbsts |= USBSTS_HCE;
            return;
        }
        for n in 0..u64::from(intr.erstsz) {
            let mut entry = [0u8; 16];
            let at = erstba + 16 * n;
            if let Err(e) = bus.dma_read(at, &mut entry) {
                tracing::debug!(target: "xhci", error = %e, "event ring segment table unreadable");
                self.usbsts |= USBSTS_HCE;
                return;
            }
            let entry = Trb::from_bytes(&entry);
            let size = entry.status & 0xffff;
            if size < 16 {
                // The specification's minimum; a smaller ring is a bug.
                tracing::debug!(target: "xhci", size, "event ring segment below 16 TRBs");
                self.usbsts |= USBSTS_HCE;
                return;
            }
            self.event.segments.push(Segment {
                base: entry.parameter & !0x3f,
                size,
            });
        }
        tracing::trace!(target: "xhci", segments = ?self.event.segments, "event ring set");
    }

    fn erdp(&self) -> u64 {
        (u64::from(self.intr[0].erdp_low) | (u64::from(self.intr[0].erdp_high) << 32)) & !0xf
    }

    /// Writes `event` to the event ring and interrupts (QEMU's
    /// `xhci_event`). A full ring gets one Event Ring Full event and drops
    /// the rest until the driver frees room.
    pub(super) fn event(&mut self, bus: &dyn XhciBus, event: Trb) {
        let Some(addr) = self.event.enqueue_addr() else {
            tracing::debug!(target: "xhci", kind = event.kind(), "event dropped: no event ring");
            return;
        };
        if self.event.full {
            tracing::debug!(target: "xhci", kind = event.kind(), "event dropped: event ring full");
            return;
        }
        let (segment, index, pcs) = self.event.advanced();
        let next = self.event.segments[segment].base + 16 * u64::from(index);
        let event = if next == self.erdp() {
            // The last free slot takes the Event Ring Full event.
            self.event.full = true;
            tracing::debug!(target: "xhci", "event ring full");
            Trb::event(kind::HOST_CONTROLLER, 0, cc::EVENT_RING_FULL, 0, 0)
        } else {
            event
        };
        let mut trb = event;
        trb.control = (trb.control & !CYCLE) | u32::from(self.event.pcs);
        if let Err(e) = bus.dma_write(addr, &trb.to_bytes()) {
            tracing::debug!(target: "xhci", error = %e, "event write failed");
            self.usbsts |= USBSTS_HSE;
            return;
        }
        tracing::trace!(target: "xhci", addr, kind = trb.kind(), code = trb.status >> 24, "event");
        (self.event.segment, self.event.index, self.event.pcs) = (segment, index, pcs);
        self.raise(bus);
    }

    /// QEMU's `xhci_intr_raise` for interrupter 0, after moderation.
    fn raise(&mut self, bus: &dyn XhciBus) {
        let interval = u64::from(self.intr[0].imod & 0xffff) * 250;
        if let Some(last) = self.event.last_interrupt_ns {
            if interval > 0 && self.now_ns.saturating_sub(last) < interval {
                self.event.held = true;
                return;
            }
        }
        self.event.held = false;
        let pending = self.intr[0].erdp_low & ERDP_EHB != 0;
        self.intr[0].erdp_low |= ERDP_EHB;
        self.intr[0].iman |= IMAN_IP;
        self.usbsts |= USBSTS_EINT;
        if pending || self.intr[0].iman & IMAN_IE == 0 || self.usbcmd & USBCMD_INTE == 0 {
            return;
        }
        self.event.last_interrupt_ns = Some(self.now_ns);
        if bus.interrupt(0, true) {
            // Delivered as a message: nothing stays pending.
            self.intr[0].iman &= !IMAN_IP;
        }
    }

    /// When a held interrupt is due, in the controller's virtual time.
    pub(super) fn moderation_deadline(&self) -> Option<u64> {
        let interval = u64::from(self.intr[0].imod & 0xffff) * 250;
        let last = self.event.last_interrupt_ns?;
        self.event.held.then_some(last.saturating_add(interval))
    }

    /// Raises an interrupt moderation held once its interval has passed;
    /// called at every controller activity.
    pub(super) fn poll_moderation(&mut self, bus: &dyn XhciBus) {
        if self.event.held {
            self.raise(bus);
        }
    }

    /// The driver moved `ERDP` (and may have cleared `EHB`): room again,
    /// and an interrupt if events remain unread (QEMU's `xhci_runtime_write`).
    pub(super) fn erdp_written(&mut self, bus: &dyn XhciBus) {
        let Some(enqueue) = self.event.enqueue_addr() else {
            return;
        };
        if self.erdp() != enqueue {
            self.event.full = false;
            if self.intr[0].erdp_low & ERDP_EHB == 0 {
                self.raise(bus);
            }
        } else {
            self.event.full = false;
        }
    }

    /// QEMU's `xhci_intr_update`: the pin follows `IMAN` and `USBCMD`.
    pub(super) fn update_interrupt(&mut self, bus: &dyn XhciBus) {
        let level = self.irq_level();
        if bus.interrupt(0, level) && level {
            self.intr[0].iman &= !IMAN_IP;
        }
    }
}

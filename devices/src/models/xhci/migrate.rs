//! What of the xHCI migrates ([`XhciSnapshot`]), and the rule for
//! transfers in flight.
//!
//! The operational registers, each interrupter, the command ring's and
//! the event ring's positions, the port status registers and, per device
//! slot, the controller's host-side copy of each endpoint (state, type,
//! dequeue pointer and cycle state, and whether a TD is waiting for the
//! device). Device and endpoint contexts, rings and buffers live in guest
//! memory and travel with it. Times travel as distances from the save
//! (`MFINDEX`'s count, the last interrupt's age), so they continue on the
//! destination's clock.
//!
//! **Transfers in flight.** This controller runs a TD to completion inside
//! the doorbell write (or the device's wake-up) that starts it, under its
//! lock, so a save never sees one half done. The endpoint's dequeue
//! pointer only moves past a TD when its Transfer Event is written: a TD
//! the device NAKed (`waiting`) is still at the dequeue pointer, and the
//! destination fetches it again from the ring when the device wakes or
//! the guest rings the doorbell, as QEMU's `xhci_post_load` re-kicks its
//! endpoints instead of migrating `USBPacket`s.

use super::context::{Endpoint, EpState, Slot, MAX_DCI};
use super::event::{EventRing, Segment};
use super::regs::{Interrupter, State};
use super::ring::Ring;
use super::{lock, XhciRegs, MAX_INTRS, MAX_PORTS, MAX_SLOTS};
use qom_rt::migration::{MigrateField, Value, VmState};

/// Endpoints per slot, DCI 0 unused.
const ENDPOINTS: usize = MAX_DCI + 1;
/// A slot without a root port.
const NO_PORT: u8 = 0xff;

/// One interrupter's registers (`IMAN`, `IMOD`, `ERSTSZ`, `ERSTBA`,
/// `ERDP`), QEMU's `vmstate_xhci_intr` register fields.
#[derive(Clone, Default, VmState)]
pub struct InterrupterState {
    iman: u32,
    imod: u32,
    erstsz: u32,
    erstba_low: u32,
    erstba_high: u32,
    erdp_low: u32,
    erdp_high: u32,
}

/// The host-side state of one device slot. The endpoints travel as
/// parallel arrays indexed by DCI (compact on the wire: an array of
/// integers carries no per-element names).
#[derive(Clone, VmState)]
#[migrate(check = SlotState::check_loaded)]
pub struct SlotState {
    enabled: bool,
    /// The root port (0-based), or 0xff before Address Device.
    port: u8,
    /// `EpState` per DCI: 0 disabled, 1 running, 2 halted, 3 stopped.
    ep_state: [u8; ENDPOINTS],
    /// Endpoint type per DCI (endpoint context dword 1, bits 3-5).
    ep_kind: [u8; ENDPOINTS],
    /// TR dequeue pointer per DCI.
    ep_dequeue: [u64; ENDPOINTS],
    /// Per DCI: bit 0 the consumer cycle state, bit 1 a NAKed TD waits.
    ep_flags: [u8; ENDPOINTS],
}

impl SlotState {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if let Some(dci) = self.ep_state.iter().position(|s| *s > 3) {
            return Err(format!(
                "endpoint {dci}: state {} is none of 0 (disabled) to 3 (stopped)",
                self.ep_state[dci]
            ));
        }
        if self.port != NO_PORT && u32::from(self.port) >= MAX_PORTS {
            return Err(format!(
                "root port {} is past the controller's {MAX_PORTS}",
                self.port
            ));
        }
        Ok(())
    }

    fn save(slot: &Slot) -> SlotState {
        let eps = &slot.endpoints;
        SlotState {
            enabled: slot.enabled,
            port: slot
                .port
                .and_then(|p| u8::try_from(p).ok())
                .unwrap_or(NO_PORT),
            ep_state: eps.map(|e| e.state as u8),
            ep_kind: eps.map(|e| e.kind as u8),
            ep_dequeue: eps.map(|e| e.ring.dequeue),
            ep_flags: eps.map(|e| u8::from(e.ring.ccs) | u8::from(e.waiting) << 1),
        }
    }

    fn restore(&self) -> Slot {
        Slot {
            enabled: self.enabled,
            port: (self.port != NO_PORT).then_some(usize::from(self.port)),
            endpoints: std::array::from_fn(|dci| Endpoint {
                state: match self.ep_state[dci] {
                    1 => EpState::Running,
                    2 => EpState::Halted,
                    3 => EpState::Stopped,
                    _ => EpState::Disabled,
                },
                kind: u32::from(self.ep_kind[dci]),
                ring: Ring::new(self.ep_dequeue[dci], self.ep_flags[dci] & 1 != 0),
                waiting: self.ep_flags[dci] & 2 != 0,
            }),
        }
    }
}

/// The controller's state as it migrates (QEMU's `vmstate_xhci`, with the
/// endpoint state QEMU keeps in guest memory's contexts kept here too).
#[derive(Clone, VmState)]
#[migrate(check = XhciSnapshot::check_loaded)]
pub struct XhciSnapshot {
    usbcmd: u32,
    usbsts: u32,
    dnctrl: u32,
    crcr_low: u32,
    crcr_high: u32,
    dcbaap_low: u32,
    dcbaap_high: u32,
    config: u32,
    /// `PORTSC` of every root port (the destination's attached devices
    /// must match: the machine shape check makes sure they exist).
    portsc: [u32; MAX_PORTS as usize],
    /// Port Status Change events not yet written.
    port_events: [u32; MAX_PORTS as usize],
    port_events_len: usize,
    interrupters: [InterrupterState; MAX_INTRS],
    /// The command ring's dequeue pointer and consumer cycle state.
    command_dequeue: u64,
    command_ccs: bool,
    /// The event ring: its segment (ERST Max is 1), the enqueue position
    /// and producer cycle state, and the full/held flags.
    /// Its base and size in TRBs.
    event_segment: Option<[u64; 2]>,
    event_segment_index: usize,
    event_index: u32,
    event_pcs: bool,
    event_full: bool,
    event_held: bool,
    /// Nanoseconds since the last interrupt, for moderation.
    since_last_interrupt_ns: Option<u64>,
    /// Nanoseconds `MFINDEX` has counted.
    mfindex_elapsed_ns: u64,
    slots: [SlotState; MAX_SLOTS as usize],
}

impl XhciSnapshot {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if self.port_events_len > self.port_events.len() {
            return Err(format!(
                "port_events_len {} is past the {MAX_PORTS} ports",
                self.port_events_len
            ));
        }
        match self.event_segment {
            Some([_, size]) if !(16..=0xffff).contains(&size) => Err(format!(
                "event ring segment of {size} TRBs (a segment table entry holds 16 to 65535)"
            )),
            None if self.event_segment_index != 0 || self.event_index != 0 => Err(format!(
                "event ring position {}:{} without a segment",
                self.event_segment_index, self.event_index
            )),
            Some([_, size])
                if self.event_segment_index != 0 || u64::from(self.event_index) >= size =>
            {
                Err(format!(
                    "event ring position {}:{} is past its one segment of {size} TRBs",
                    self.event_segment_index, self.event_index
                ))
            }
            _ => Ok(()),
        }
    }

    fn save(state: &State) -> XhciSnapshot {
        let mut port_events = [0; MAX_PORTS as usize];
        for (slot, event) in port_events.iter_mut().zip(&state.port_events) {
            *slot = *event;
        }
        let event = &state.event;
        XhciSnapshot {
            usbcmd: state.usbcmd,
            usbsts: state.usbsts,
            dnctrl: state.dnctrl,
            crcr_low: state.crcr_low,
            crcr_high: state.crcr_high,
            dcbaap_low: state.dcbaap_low,
            dcbaap_high: state.dcbaap_high,
            config: state.config,
            portsc: state.ports.map(|p| p.portsc),
            port_events,
            port_events_len: state.port_events.len().min(MAX_PORTS as usize),
            interrupters: state.intr.map(|i| InterrupterState {
                iman: i.iman,
                imod: i.imod,
                erstsz: i.erstsz,
                erstba_low: i.erstba_low,
                erstba_high: i.erstba_high,
                erdp_low: i.erdp_low,
                erdp_high: i.erdp_high,
            }),
            command_dequeue: state.command_ring.dequeue,
            command_ccs: state.command_ring.ccs,
            event_segment: event.segments.first().map(|s| [s.base, u64::from(s.size)]),
            event_segment_index: event.segment,
            event_index: event.index,
            event_pcs: event.pcs,
            event_full: event.full,
            event_held: event.held,
            since_last_interrupt_ns: event
                .last_interrupt_ns
                .map(|t| state.now_ns.saturating_sub(t)),
            mfindex_elapsed_ns: state.now_ns.wrapping_sub(state.mfindex_start),
            slots: std::array::from_fn(|i| SlotState::save(&state.slots[i])),
        }
    }

    fn restore(&self, state: &mut State) {
        state.usbcmd = self.usbcmd;
        state.usbsts = self.usbsts;
        state.dnctrl = self.dnctrl;
        state.crcr_low = self.crcr_low;
        state.crcr_high = self.crcr_high;
        state.dcbaap_low = self.dcbaap_low;
        state.dcbaap_high = self.dcbaap_high;
        state.config = self.config;
        for (port, portsc) in state.ports.iter_mut().zip(self.portsc) {
            port.portsc = portsc;
        }
        state.port_events = self.port_events[..self.port_events_len].to_vec();
        state.intr = std::array::from_fn(|n| {
            let i = &self.interrupters[n];
            Interrupter {
                iman: i.iman,
                imod: i.imod,
                erstsz: i.erstsz,
                erstba_low: i.erstba_low,
                erstba_high: i.erstba_high,
                erdp_low: i.erdp_low,
                erdp_high: i.erdp_high,
            }
        });
        state.command_ring = Ring::new(self.command_dequeue, self.command_ccs);
        state.event = EventRing {
            segments: self
                .event_segment
                .map(|[base, size]| Segment {
                    base,
                    size: size as u32,
                })
                .into_iter()
                .collect(),
            segment: self.event_segment_index,
            index: self.event_index,
            pcs: self.event_pcs,
            full: self.event_full,
            held: self.event_held,
            last_interrupt_ns: self
                .since_last_interrupt_ns
                .map(|age| state.now_ns.saturating_sub(age)),
        };
        state.mfindex_start = state.now_ns.wrapping_sub(self.mfindex_elapsed_ns);
        *state.slots = std::array::from_fn(|i| self.slots[i].restore());
    }
}

/// The registers migrate; attached devices are the destination's own and
/// carry their own state.
impl MigrateField for XhciRegs {
    type Value = XhciSnapshot;

    fn save(&self) -> Value {
        XhciSnapshot::save(&lock(&self.state)).to_value()
    }

    fn restore(&self, value: XhciSnapshot) {
        value.restore(&mut lock(&self.state));
    }
}

//! Transfer rings (xHCI 1.2 section 4.11; QEMU's `xhci_kick_epctx`,
//! `xhci_fire_ctl_transfer`, `xhci_xfer_report`): a doorbell runs an
//! endpoint's ring TD by TD. A control TD goes from its Setup Stage TRB
//! to its Status Stage TRB; a bulk or interrupt TD is a chain of Normal
//! TRBs. Each TD is one synchronous call into the USB device; a TD the
//! device NAKs stays on the ring until the device wakes the controller.
//! Transfer events follow QEMU's `xhci_xfer_report`: on IOC, on a short
//! packet with ISP, at Event Data TRBs, and on error.

use super::context::{ep_type, EpState, MAX_DCI};
use super::regs::State;
use super::trb::{cc, kind, Trb, CHAIN, EVENT_DATA_FLAG, IDT, IOC, ISP};
use super::*;
use crate::usb::{Setup, UsbDevice, UsbError};

/// Most TRBs in one TD; a longer chain is a TRB error.
const MAX_TD_TRBS: usize = 64;
/// Most TDs run for one doorbell (a ring linked into a loop of ready TDs
/// would otherwise never end).
const MAX_TDS_PER_KICK: usize = 1024;

/// How a TD ended: bytes transferred and the completion code.
struct Outcome {
    transferred: u32,
    code: u32,
}

fn usb_code(e: UsbError) -> u32 {
    match e {
        UsbError::Stall => cc::STALL,
        UsbError::Babble => cc::BABBLE,
        UsbError::Nak | UsbError::NoDevice => cc::USB_TRANSACTION,
    }
}

impl State {
    /// Endpoint doorbell: runs the ring of endpoint `dci` of `slot`.
    pub(super) fn kick(&mut self, bus: &dyn XhciBus, slot: usize, dci: usize) {
        if !(1..=MAX_SLOTS as usize).contains(&slot) || !(1..=MAX_DCI).contains(&dci) {
            return;
        }
        // A doorbell restarts a stopped endpoint (QEMU's
        // `xhci_kick_epctx`); a halted one waits for Reset Endpoint.
        let ep = self.slots[slot - 1].endpoints[dci];
        if self.slots[slot - 1].enabled && ep.state == EpState::Stopped {
            self.slots[slot - 1].endpoints[dci].state = EpState::Running;
            self.store_endpoint(bus, slot, dci, EpState::Running, ep.ring);
        }
        for _ in 0..MAX_TDS_PER_KICK {
            let ep = self.slots[slot - 1].endpoints[dci];
            if !self.slots[slot - 1].enabled || ep.state != EpState::Running {
                tracing::trace!(target: "xhci", slot, dci, state = ?ep.state, "doorbell for an endpoint not running");
                return;
            }
            let mut ring = ep.ring;
            let control = ep.kind == ep_type::CONTROL;
            let mut td: Vec<(u64, Trb)> = Vec::new();
            loop {
                match ring.next(bus) {
                    Ok(Some((addr, trb))) => {
                        td.push((addr, trb));
                        let ends = if control {
                            trb.kind() == kind::STATUS
                                || (td.len() == 1 && trb.kind() != kind::SETUP && !trb.has(CHAIN))
                        } else {
                            !trb.has(CHAIN)
                        };
                        if ends {
                            break;
                        }
                        if td.len() == MAX_TD_TRBS {
                            break;
                        }
                    }
                    // The driver has not finished writing the TD.
                    Ok(None) => return,
                    Err(e) => {
                        tracing::debug!(target: "xhci", slot, dci, error = %e, "transfer ring unreadable");
                        self.usbsts |= USBSTS_HSE;
                        return self.halt(bus, slot, dci);
                    }
                }
            }
            let outcome = if td.len() == MAX_TD_TRBS {
                Outcome {
                    transferred: 0,
                    code: cc::TRB_ERROR,
                }
            } else {
                match self.execute(bus, slot, dci, control, &td) {
                    Some(outcome) => outcome,
                    None => {
                        // NAK: try again when the device wakes up.
                        self.slots[slot - 1].endpoints[dci].waiting = true;
                        return;
                    }
                }
            };
            let ep = &mut self.slots[slot - 1].endpoints[dci];
            ep.ring = ring;
            ep.waiting = false;
            self.report(bus, slot, dci, &td, &outcome);
            if outcome.code != cc::SUCCESS {
                return self.halt(bus, slot, dci);
            }
        }
    }

    /// A device on root port `port` (0-based) woke up: retry the
    /// endpoints of its slot that are waiting.
    pub(super) fn wake_port(&mut self, bus: &dyn XhciBus, port: usize) {
        for slot in 1..=MAX_SLOTS as usize {
            if self.slots[slot - 1].port != Some(port) {
                continue;
            }
            for dci in 1..=MAX_DCI {
                if self.slots[slot - 1].endpoints[dci].waiting {
                    self.kick(bus, slot, dci);
                }
            }
        }
    }

    fn halt(&mut self, bus: &dyn XhciBus, slot: usize, dci: usize) {
        let ep = &mut self.slots[slot - 1].endpoints[dci];
        ep.state = EpState::Halted;
        let ring = ep.ring;
        tracing::debug!(target: "xhci", slot, dci, "endpoint halted");
        self.store_endpoint(bus, slot, dci, EpState::Halted, ring);
    }

    /// Runs one TD against the device; `None` if the device NAKed.
    fn execute(
        &mut self,
        bus: &dyn XhciBus,
        slot: usize,
        dci: usize,
        control: bool,
        td: &[(u64, Trb)],
    ) -> Option<Outcome> {
        let fail = |code| {
            Some(Outcome {
                transferred: 0,
                code,
            })
        };
        let device = match self.slots[slot - 1]
            .port
            .and_then(|p| self.port_device(bus, p))
        {
            Some(device) => device,
            None => return fail(cc::USB_TRANSACTION),
        };
        let mut data: Vec<(u64, Trb)> = td
            .iter()
            .filter(|(_, t)| matches!(t.kind(), kind::NORMAL | kind::DATA))
            .copied()
            .collect();
        if td.iter().any(|(_, t)| t.kind() == kind::ISOCH) {
            return fail(cc::TRB_ERROR);
        }
        let setup = if control {
            let (_, first) = td[0];
            if first.kind() != kind::SETUP || !first.has(IDT) || first.transfer_length() != 8 {
                return fail(cc::TRB_ERROR);
            }
            Some(Setup::from_u64(first.parameter))
        } else {
            None
        };
        let to_host = match setup {
            Some(s) => s.is_in(),
            None => dci % 2 == 1,
        };
        if to_host && data.iter().any(|(_, t)| t.has(IDT)) {
            return fail(cc::TRB_ERROR);
        }
        if !control && data.is_empty() {
            // Only No Op or Event Data TRBs: nothing goes on the wire.
            return Some(Outcome {
                transferred: 0,
                code: cc::SUCCESS,
            });
        }
        let total: usize = data.iter().map(|(_, t)| t.transfer_length() as usize).sum();
        let mut buf = vec![0u8; total];
        if !to_host {
            let mut at = 0;
            for (_, t) in &data {
                let len = t.transfer_length() as usize;
                let chunk = &mut buf[at..at + len];
                if t.has(IDT) {
                    let bytes = t.parameter.to_le_bytes();
                    let n = len.min(8);
                    chunk[..n].copy_from_slice(&bytes[..n]);
                } else if bus.dma_read(t.parameter, chunk).is_err() {
                    return fail(cc::DATA_BUFFER);
                }
                at += len;
            }
        }
        let ep = (dci / 2) as u8;
        let result = Self::transact(&device, setup, ep, to_host, &mut buf);
        let transferred = match result {
            Ok(n) => n.min(total),
            Err(UsbError::Nak) => return None,
            Err(e) => {
                tracing::debug!(target: "xhci", slot, dci, error = %e, "transfer failed");
                return fail(usb_code(e));
            }
        };
        if to_host {
            let mut at = 0;
            data.retain(|(_, t)| t.transfer_length() > 0);
            for (_, t) in &data {
                if at >= transferred {
                    break;
                }
                let n = (t.transfer_length() as usize).min(transferred - at);
                if bus.dma_write(t.parameter, &buf[at..at + n]).is_err() {
                    return Some(Outcome {
                        transferred: at as u32,
                        code: cc::DATA_BUFFER,
                    });
                }
                at += n;
            }
        }
        Some(Outcome {
            transferred: transferred as u32,
            code: cc::SUCCESS,
        })
    }

    fn transact(
        device: &UsbDevice,
        setup: Option<Setup>,
        ep: u8,
        to_host: bool,
        buf: &mut [u8],
    ) -> Result<usize, UsbError> {
        match setup {
            Some(setup) => device.control(&setup, buf),
            None if to_host => device.data_in(ep, buf),
            None => device.data_out(ep, buf),
        }
    }

    /// Transfer events for a finished TD (QEMU's `xhci_xfer_report`).
    fn report(
        &mut self,
        bus: &dyn XhciBus,
        slot: usize,
        dci: usize,
        td: &[(u64, Trb)],
        outcome: &Outcome,
    ) {
        let ids = ((slot as u32) << 24) | ((dci as u32) << 16);
        let mut left = outcome.transferred;
        let (mut edtla, mut reported, mut short) = (0u32, false, false);
        for (addr, trb) in td {
            let mut chunk = 0;
            match trb.kind() {
                kind::SETUP => chunk = trb.transfer_length().min(8),
                kind::DATA | kind::NORMAL => {
                    chunk = trb.transfer_length();
                    if chunk > left {
                        chunk = left;
                        short |= outcome.code == cc::SUCCESS;
                    }
                    left -= chunk;
                    edtla += chunk;
                }
                kind::STATUS => (reported, short) = (false, false),
                _ => {}
            }
            let due = trb.has(IOC)
                || (short && trb.has(ISP))
                || (outcome.code != cc::SUCCESS && left == 0);
            if !reported && due {
                let code = match outcome.code {
                    cc::SUCCESS if short => cc::SHORT_PACKET,
                    code => code,
                };
                let event = if trb.kind() == kind::EVENT_DATA {
                    let e = Trb::event(
                        kind::TRANSFER_EVENT,
                        trb.parameter,
                        code,
                        edtla,
                        ids | EVENT_DATA_FLAG,
                    );
                    edtla = 0;
                    e
                } else {
                    Trb::event(
                        kind::TRANSFER_EVENT,
                        *addr,
                        code,
                        trb.transfer_length() - chunk,
                        ids,
                    )
                };
                self.event(bus, event);
                reported = true;
                if outcome.code != cc::SUCCESS {
                    return;
                }
            }
            if trb.kind() == kind::SETUP {
                (reported, short) = (false, false);
            }
        }
    }
}

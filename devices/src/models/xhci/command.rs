//! The command ring (xHCI 1.2 sections 4.6 and 6.4.3; QEMU's
//! `xhci_process_commands`): every command a driver issues, each answered
//! with a Command Completion event naming the command TRB.

use super::context::{self, ep_type, slot_state, EpState, Slot, CONTEXT_SIZE, MAX_DCI};
use super::regs::State;
use super::ring::Ring;
use super::trb::{cc, kind, Trb, BSR, DECONFIGURE};
use super::*;
use crate::usb::Setup;

/// Most commands run for one doorbell: a ring the driver made endless
/// (a link back with no cycle toggle) cannot hold the vCPU forever.
const MAX_COMMANDS_PER_DOORBELL: usize = 4096;

/// A command's completion code, and the slot ID its event reports.
type Completion = (u32, usize);

impl State {
    /// Runs the command ring until it is empty (doorbell 0).
    pub(super) fn run_commands(&mut self, bus: &dyn XhciBus) {
        self.crcr_low |= CRCR_CRR;
        for _ in 0..MAX_COMMANDS_PER_DOORBELL {
            let (addr, trb) = match self.command_ring.next(bus) {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(target: "xhci", error = %e, "command ring unreadable");
                    self.usbsts |= USBSTS_HCE;
                    return;
                }
            };
            let (code, slot) = self.command(bus, &trb);
            tracing::trace!(target: "xhci", addr, kind = trb.kind(), code, slot, "command");
            let event = Trb::event(kind::COMMAND_COMPLETION, addr, code, 0, (slot as u32) << 24);
            self.event(bus, event);
        }
        tracing::debug!(target: "xhci", "command ring: {MAX_COMMANDS_PER_DOORBELL} commands in one doorbell, stopping");
    }

    /// The command ring was stopped or aborted: a Command Ring Stopped
    /// event at the next command.
    pub(super) fn command_ring_stopped(&mut self, bus: &dyn XhciBus) {
        let event = Trb::event(
            kind::COMMAND_COMPLETION,
            self.command_ring.dequeue,
            cc::COMMAND_RING_STOPPED,
            0,
            0,
        );
        self.event(bus, event);
    }

    fn command(&mut self, bus: &dyn XhciBus, trb: &Trb) -> Completion {
        let slot = trb.slot();
        if trb.kind() == kind::ENABLE_SLOT {
            return match (1..=MAX_SLOTS as usize).find(|&s| !self.slots[s - 1].enabled) {
                Some(s) => {
                    self.slots[s - 1] = Slot {
                        enabled: true,
                        ..Slot::default()
                    };
                    (cc::SUCCESS, s)
                }
                None => (cc::NO_SLOTS, 0),
            };
        }
        if trb.kind() == kind::NOOP_COMMAND {
            return (cc::SUCCESS, 0);
        }
        if !(1..=MAX_SLOTS as usize).contains(&slot) {
            return (cc::TRB_ERROR, slot);
        }
        if !self.slots[slot - 1].enabled {
            return (cc::SLOT_NOT_ENABLED, slot);
        }
        let code = match trb.kind() {
            kind::DISABLE_SLOT => {
                self.slots[slot - 1] = Slot::default();
                cc::SUCCESS
            }
            kind::ADDRESS_DEVICE => self.address_device(bus, slot, trb),
            kind::CONFIGURE_ENDPOINT => self.configure_endpoint(bus, slot, trb),
            kind::EVALUATE_CONTEXT => self.evaluate_context(bus, slot, trb),
            kind::RESET_ENDPOINT => self.endpoint_command(bus, slot, trb.endpoint(), |ep| {
                (ep.state == EpState::Halted).then(|| ep.state = EpState::Stopped)
            }),
            kind::STOP_ENDPOINT => self.stop_endpoint(bus, slot, trb.endpoint()),
            kind::SET_TR_DEQUEUE => {
                let ring = Ring::new(trb.parameter, trb.parameter & 1 != 0);
                self.endpoint_command(bus, slot, trb.endpoint(), |ep| {
                    (ep.state == EpState::Stopped).then(|| ep.ring = ring)
                })
            }
            kind::RESET_DEVICE => self.reset_device(bus, slot),
            other => {
                tracing::debug!(target: "xhci", kind = other, "unknown command");
                cc::TRB_ERROR
            }
        };
        (code, slot)
    }

    /// The output device context of `slot` (`DCBAA[slot]`).
    fn output_context(&self, bus: &dyn XhciBus, slot: usize) -> Result<u64, String> {
        let dcbaap = u64::from(self.dcbaap_low) | (u64::from(self.dcbaap_high) << 32);
        let mut entry = [0u8; 8];
        bus.dma_read(dcbaap + 8 * slot as u64, &mut entry)?;
        Ok(u64::from_le_bytes(entry) & !0x3f)
    }

    /// Reads an input context's control dwords (drop, add).
    fn input_control(bus: &dyn XhciBus, input: u64) -> Result<(u32, u32), String> {
        let ctl = context::read(bus, input)?;
        Ok((ctl[0], ctl[1]))
    }

    fn address_device(&mut self, bus: &dyn XhciBus, slot: usize, trb: &Trb) -> u32 {
        let input = trb.parameter & !0xf;
        let mut run = || -> Result<u32, String> {
            let (drop_flags, add_flags) = Self::input_control(bus, input)?;
            if drop_flags != 0 || add_flags != 0x3 {
                return Ok(cc::TRB_ERROR);
            }
            let mut slot_ctx = context::read(bus, input + CONTEXT_SIZE)?;
            let mut ep0 = context::read(bus, input + 2 * CONTEXT_SIZE)?;
            let port = ((slot_ctx[1] >> 16) & 0xff) as usize;
            if !(1..=self.num_ports as usize).contains(&port) {
                return Ok(cc::TRB_ERROR);
            }
            let Some(device) = self.port_device(bus, port - 1) else {
                return Ok(cc::USB_TRANSACTION);
            };
            let block = trb.has(BSR);
            let address = if block { 0 } else { slot as u32 };
            if !block {
                // The SET_ADDRESS the driver does not send itself.
                let set_address = Setup {
                    request_type: 0,
                    request: 5,
                    value: slot as u16,
                    index: 0,
                    length: 0,
                };
                if device.control(&set_address, &mut []).is_err() {
                    return Ok(cc::USB_TRANSACTION);
                }
            }
            let out = self.output_context(bus, slot)?;
            let state = if block {
                slot_state::DEFAULT
            } else {
                slot_state::ADDRESSED
            };
            slot_ctx[3] = (state << 27) | address;
            let ring = context::dequeue(&ep0);
            context::set_endpoint(&mut ep0, EpState::Running, ring);
            context::write(bus, out, &slot_ctx)?;
            context::write(bus, out + CONTEXT_SIZE, &ep0)?;
            let s = &mut self.slots[slot - 1];
            s.port = Some(port - 1);
            s.endpoints = Default::default();
            let ep = &mut s.endpoints[1];
            (ep.state, ep.kind, ep.ring) = (EpState::Running, ep_type::CONTROL, ring);
            Ok(cc::SUCCESS)
        };
        run().unwrap_or_else(|e| {
            tracing::debug!(target: "xhci", slot, error = %e, "address device: DMA failed");
            cc::TRB_ERROR
        })
    }

    fn configure_endpoint(&mut self, bus: &dyn XhciBus, slot: usize, trb: &Trb) -> u32 {
        let input = trb.parameter & !0xf;
        let mut run = || -> Result<u32, String> {
            if self.slots[slot - 1].port.is_none() {
                return Ok(cc::CONTEXT_STATE);
            }
            let out = self.output_context(bus, slot)?;
            let mut slot_ctx = context::read(bus, out)?;
            let address = slot_ctx[3] & 0xff;
            if trb.has(DECONFIGURE) {
                for dci in 2..=MAX_DCI {
                    self.slots[slot - 1].endpoints[dci] = Default::default();
                }
                slot_ctx[3] = (slot_state::ADDRESSED << 27) | address;
                context::write(bus, out, &slot_ctx)?;
                return Ok(cc::SUCCESS);
            }
            let (drop_flags, add_flags) = Self::input_control(bus, input)?;
            if drop_flags & 0x3 != 0 || add_flags & 0x2 != 0 {
                return Ok(cc::TRB_ERROR);
            }
            for dci in 2..=MAX_DCI {
                let at = out + CONTEXT_SIZE * dci as u64;
                if drop_flags & (1 << dci) != 0 {
                    self.slots[slot - 1].endpoints[dci] = Default::default();
                    let mut ctx = context::read(bus, at)?;
                    ctx[0] &= !0x7;
                    context::write(bus, at, &ctx)?;
                }
                if add_flags & (1 << dci) != 0 {
                    let mut ctx = context::read(bus, input + CONTEXT_SIZE * (dci as u64 + 1))?;
                    let ring = context::dequeue(&ctx);
                    context::set_endpoint(&mut ctx, EpState::Running, ring);
                    context::write(bus, at, &ctx)?;
                    let ep = &mut self.slots[slot - 1].endpoints[dci];
                    *ep = Default::default();
                    (ep.state, ep.kind, ep.ring) = (EpState::Running, (ctx[1] >> 3) & 7, ring);
                }
            }
            let input_slot = context::read(bus, input + CONTEXT_SIZE)?;
            slot_ctx[0] = (slot_ctx[0] & !(31 << 27)) | (input_slot[0] & (31 << 27));
            slot_ctx[3] = (slot_state::CONFIGURED << 27) | address;
            context::write(bus, out, &slot_ctx)?;
            Ok(cc::SUCCESS)
        };
        run().unwrap_or_else(|e| {
            tracing::debug!(target: "xhci", slot, error = %e, "configure endpoint: DMA failed");
            cc::TRB_ERROR
        })
    }

    fn evaluate_context(&mut self, bus: &dyn XhciBus, slot: usize, trb: &Trb) -> u32 {
        let input = trb.parameter & !0xf;
        let run = || -> Result<u32, String> {
            let (drop_flags, add_flags) = Self::input_control(bus, input)?;
            if drop_flags != 0 || add_flags & !0x3 != 0 {
                return Ok(cc::TRB_ERROR);
            }
            let out = self.output_context(bus, slot)?;
            if add_flags & 1 != 0 {
                // Max exit latency and interrupter target.
                let input_slot = context::read(bus, input + CONTEXT_SIZE)?;
                let mut slot_ctx = context::read(bus, out)?;
                slot_ctx[1] = (slot_ctx[1] & 0x003f_0000) | (input_slot[1] & !0x003f_0000);
                context::write(bus, out, &slot_ctx)?;
            }
            if add_flags & 2 != 0 {
                // Endpoint 0's max packet size.
                let input_ep0 = context::read(bus, input + 2 * CONTEXT_SIZE)?;
                let mut ep0 = context::read(bus, out + CONTEXT_SIZE)?;
                ep0[1] = (ep0[1] & 0xffff) | (input_ep0[1] & 0xffff_0000);
                context::write(bus, out + CONTEXT_SIZE, &ep0)?;
            }
            Ok(cc::SUCCESS)
        };
        run().unwrap_or_else(|e| {
            tracing::debug!(target: "xhci", slot, error = %e, "evaluate context: DMA failed");
            cc::TRB_ERROR
        })
    }

    /// Runs `change` on endpoint `dci` of `slot` (`None`: wrong state) and
    /// stores the endpoint's state and dequeue pointer in its context.
    fn endpoint_command(
        &mut self,
        bus: &dyn XhciBus,
        slot: usize,
        dci: usize,
        change: impl FnOnce(&mut context::Endpoint) -> Option<()>,
    ) -> u32 {
        if !(1..=MAX_DCI).contains(&dci) {
            return cc::TRB_ERROR;
        }
        let ep = &mut self.slots[slot - 1].endpoints[dci];
        if ep.state == EpState::Disabled {
            return cc::EP_NOT_ENABLED;
        }
        if change(ep).is_none() {
            return cc::CONTEXT_STATE;
        }
        let (state, ring) = (ep.state, ep.ring);
        self.store_endpoint(bus, slot, dci, state, ring);
        cc::SUCCESS
    }

    /// Writes an endpoint's state and dequeue pointer to its output
    /// context (QEMU's `xhci_set_ep_state`).
    pub(super) fn store_endpoint(
        &self,
        bus: &dyn XhciBus,
        slot: usize,
        dci: usize,
        state: EpState,
        ring: Ring,
    ) {
        let result = self.output_context(bus, slot).and_then(|out| {
            let at = out + CONTEXT_SIZE * dci as u64;
            let mut ctx = context::read(bus, at)?;
            context::set_endpoint(&mut ctx, state, ring);
            context::write(bus, at, &ctx)
        });
        if let Err(e) = result {
            tracing::debug!(target: "xhci", slot, dci, error = %e, "endpoint context not written");
        }
    }

    fn stop_endpoint(&mut self, bus: &dyn XhciBus, slot: usize, dci: usize) -> u32 {
        let waiting = self.slots[slot - 1]
            .endpoints
            .get(dci)
            .is_some_and(|ep| ep.waiting);
        let code = self.endpoint_command(bus, slot, dci, |ep| {
            ep.state = EpState::Stopped;
            ep.waiting = false;
            Some(())
        });
        if code == cc::SUCCESS && waiting {
            // The TD that was waiting for the device is stopped where it
            // stands (QEMU's `xhci_ep_nuke_xfers` with CC_STOPPED).
            let at = self.slots[slot - 1].endpoints[dci].ring.dequeue;
            let event = Trb::event(
                kind::TRANSFER_EVENT,
                at,
                cc::STOPPED,
                0,
                ((slot as u32) << 24) | ((dci as u32) << 16),
            );
            self.event(bus, event);
        }
        code
    }

    fn reset_device(&mut self, bus: &dyn XhciBus, slot: usize) -> u32 {
        if self.slots[slot - 1].port.is_none() {
            return cc::CONTEXT_STATE;
        }
        for dci in 2..=MAX_DCI {
            self.slots[slot - 1].endpoints[dci] = Default::default();
        }
        let result = self.output_context(bus, slot).and_then(|out| {
            let mut slot_ctx = context::read(bus, out)?;
            slot_ctx[3] = slot_state::DEFAULT << 27;
            slot_ctx[0] = (slot_ctx[0] & !(31 << 27)) | (1 << 27);
            context::write(bus, out, &slot_ctx)?;
            for dci in 2..=MAX_DCI as u64 {
                let mut ctx = context::read(bus, out + CONTEXT_SIZE * dci)?;
                ctx[0] &= !0x7;
                context::write(bus, out + CONTEXT_SIZE * dci, &ctx)?;
            }
            Ok(())
        });
        match result {
            Ok(()) => cc::SUCCESS,
            Err(e) => {
                tracing::debug!(target: "xhci", slot, error = %e, "reset device: DMA failed");
                cc::TRB_ERROR
            }
        }
    }
}

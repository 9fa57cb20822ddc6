//! Root hub ports: `PORTSC` and its neighbours (QEMU's `xhci_port_*`).

use super::regs::State;
use super::*;

const PORTSC_PLS_MASK: u32 = 0xf << PORTSC_PLS_SHIFT;
/// The change bits a write of 1 clears.
const PORTSC_W1C: u32 =
    PORTSC_CSC | PORTSC_PEC | PORTSC_WRC | PORTSC_OCC | PORTSC_PRC | PORTSC_PLC | PORTSC_CEC;
/// The bits a write sets as written.
const PORTSC_RW: u32 = PORTSC_PP | PORTSC_WCE | PORTSC_WDE | PORTSC_WOE;

/// One root port.
#[derive(Clone, Copy)]
pub(super) struct Port {
    portnr: u32,
    pub(super) portsc: u32,
    device: Option<UsbSpeed>,
}

impl Port {
    pub(super) fn new(portnr: u32) -> Self {
        Port {
            portnr,
            portsc: 0,
            device: None,
        }
    }

    /// The speed of the device connected, if any.
    pub(super) fn device(&self) -> Option<UsbSpeed> {
        self.device
    }

    fn link_state(&self) -> u32 {
        (self.portsc & PORTSC_PLS_MASK) >> PORTSC_PLS_SHIFT
    }

    fn set_link_state(&mut self, pls: u32) {
        self.portsc = (self.portsc & !PORTSC_PLS_MASK) | (pls << PORTSC_PLS_SHIFT);
        tracing::trace!(target: "xhci", port = self.portnr, pls, "port link state");
    }
}

/// `PORTSC` speed field value (protocol speed ID) for a device speed.
fn speed_id(speed: UsbSpeed) -> u32 {
    match speed {
        UsbSpeed::Full => 1,
        UsbSpeed::Low => 2,
        UsbSpeed::High => 3,
        UsbSpeed::Super => 4,
    }
}

impl State {
    /// Sets `bits` in port `n`'s `PORTSC`; while running, that is a port
    /// status change event (traced: there is no event ring here).
    fn port_notify(&mut self, n: usize, bits: u32) {
        let running = self.running();
        let port = &mut self.ports[n];
        if port.portsc & bits == bits {
            return;
        }
        port.portsc |= bits;
        tracing::trace!(target: "xhci", port = port.portnr, bits, "port notify");
        if running {
            let portnr = port.portnr;
            self.port_events.push(portnr);
        }
    }

    /// QEMU's `xhci_port_update`: the port after a connect, a disconnect
    /// or a controller reset.
    pub(super) fn port_update(&mut self, n: usize, detach: bool) {
        let port = &mut self.ports[n];
        port.portsc = PORTSC_PP;
        let mut pls = PLS_RX_DETECT;
        if let Some(speed) = port.device.filter(|_| !detach) {
            port.portsc |= PORTSC_CCS | (speed_id(speed) << PORTSC_SPEED_SHIFT);
            if speed == UsbSpeed::Super {
                port.portsc |= PORTSC_PED;
                pls = PLS_U0;
            } else {
                pls = PLS_POLLING;
            }
        }
        port.set_link_state(pls);
        self.port_notify(n, PORTSC_CSC);
    }

    /// Connects (`Some`) or disconnects (`None`) a device on port `n`.
    pub(super) fn attach(&mut self, n: usize, device: Option<UsbSpeed>) -> bool {
        if n >= self.num_ports as usize {
            return false;
        }
        let detach = device.is_none();
        if detach && self.ports[n].device.is_none() {
            return true;
        }
        self.ports[n].device = device;
        tracing::trace!(target: "xhci", port = n + 1, ?device, "attach");
        self.port_update(n, detach);
        true
    }

    /// QEMU's `xhci_port_reset`: only a port with a device reacts.
    fn port_reset(&mut self, n: usize, warm: bool) {
        let port = &mut self.ports[n];
        tracing::trace!(target: "xhci", port = port.portnr, warm, "port reset");
        let Some(speed) = port.device else {
            return;
        };
        if speed == UsbSpeed::Super && warm {
            port.portsc |= PORTSC_WRC;
        }
        port.set_link_state(PLS_U0);
        port.portsc = (port.portsc | PORTSC_PED) & !PORTSC_PR;
        self.port_notify(n, PORTSC_PRC);
    }

    pub(super) fn port_read(&self, n: usize, reg: u64) -> u32 {
        match reg {
            0x00 => self.ports[n].portsc,
            _ => 0, // PORTPMSC, PORTLI, PORTHLPMC
        }
    }

    pub(super) fn port_write(&mut self, n: usize, reg: u64, value: u32) {
        if reg != 0 {
            tracing::debug!(target: "xhci", port = n + 1, offset = reg, "port register write ignored");
            return;
        }
        if value & PORTSC_WPR != 0 {
            return self.port_reset(n, true);
        }
        if value & PORTSC_PR != 0 {
            return self.port_reset(n, false);
        }
        let port = &mut self.ports[n];
        let mut portsc = port.portsc & !(value & PORTSC_W1C);
        let mut notify = 0;
        if value & PORTSC_LWS != 0 {
            // The link state is written only with the strobe set.
            let old = port.link_state();
            let new = (value & PORTSC_PLS_MASK) >> PORTSC_PLS_SHIFT;
            let accept = match new {
                PLS_U0 => old != PLS_U0,
                PLS_U3 => old < PLS_U3,
                _ => false, // includes Resume, which Windows writes
            };
            if accept {
                portsc = (portsc & !PORTSC_PLS_MASK) | (new << PORTSC_PLS_SHIFT);
                tracing::trace!(target: "xhci", port = port.portnr, pls = new, "port link state");
                if new == PLS_U0 {
                    notify = PORTSC_PLC;
                }
            }
        }
        port.portsc = (portsc & !PORTSC_RW) | (value & PORTSC_RW);
        if notify != 0 {
            self.port_notify(n, notify);
        }
    }
}

//! The UHCI schedule (UHCI 1.1 chapter 3; QEMU's `uhci_process_frame`,
//! `uhci_handle_td`): once per frame the controller reads the frame list
//! entry, walks its transfer descriptors and queue heads and runs the
//! active TDs against the devices on its ports, writing the TDs' status
//! back. Each TD is one packet; control transfers are assembled from
//! their SETUP, data and status packets into the one call
//! [`UsbDevice::control`] takes: an IN control transfer runs at its SETUP
//! and its data is handed out packet by packet, an OUT one runs at its
//! status packet with the data gathered.
//!
//! Not modelled: isochronous TDs (treated as any other), low-speed
//! timing, data toggles (accepted as given), bandwidth reclamation
//! loops (a frame stops after [`MAX_ELEMENTS`] elements).

use super::*;
use crate::usb::{Setup, UsbDevice, UsbError};
use qom_rt::Owned;

/// What the schedule reaches through the PCI function: guest memory and
/// the devices on the two ports. Called with the controller's state
/// locked.
pub trait UhciBus {
    /// Reads guest memory at `addr`.
    fn dma_read(&self, addr: u32, buf: &mut [u8]) -> Result<(), String>;
    /// Writes guest memory at `addr`.
    fn dma_write(&self, addr: u32, data: &[u8]) -> Result<(), String>;
    /// The device on root port `port` (0 or 1).
    fn device(&self, port: usize) -> Option<Owned<UsbDevice>>;
}

/// Most frame list elements (TDs and QHs) visited in one frame.
pub const MAX_ELEMENTS: usize = 1024;
/// Most frames run in one call: a controller that fell behind skips the
/// rest, as QEMU's frame timer does.
pub const MAX_FRAMES_PER_RUN: u64 = 64;

const LINK_TERMINATE: u32 = 1 << 0;
const LINK_QH: u32 = 1 << 1;
const TD_ACTIVE: u32 = 1 << 23;
const TD_STALLED: u32 = 1 << 22;
const TD_NAK: u32 = 1 << 19;
const TD_TIMEOUT: u32 = 1 << 18;
const TD_IOC: u32 = 1 << 24;
const TD_SPD: u32 = 1 << 29;
const PID_SETUP: u32 = 0x2d;
const PID_IN: u32 = 0x69;
const PID_OUT: u32 = 0xe1;

/// A control transfer in progress on a port's device.
#[derive(Clone, Default)]
pub(super) enum Control {
    /// No control transfer.
    #[default]
    Idle,
    /// IN: the device answered at SETUP; `data[pos..]` is still to go.
    In { data: Vec<u8>, pos: usize },
    /// OUT: the data gathered so far; the device runs it at the status
    /// packet.
    Out { setup: Setup, data: Vec<u8> },
}

/// How a retired TD ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retired {
    /// All it asked for.
    Complete,
    /// Fewer bytes than its maximum.
    Short,
    /// Stalled or no answer.
    Failed,
}

/// How a TD went.
enum Packet {
    /// Done: bytes moved.
    Done(usize),
    /// The device had nothing: the TD stays active.
    Nak,
    /// The device stalled, or no device answered: the TD is retired
    /// with this status bit.
    Error(u32),
}

fn read32(bus: &dyn UhciBus, addr: u32) -> Option<u32> {
    let mut b = [0u8; 4];
    bus.dma_read(addr, &mut b).ok()?;
    Some(u32::from_le_bytes(b))
}

fn write32(bus: &dyn UhciBus, addr: u32, value: u32) -> bool {
    bus.dma_write(addr, &value.to_le_bytes()).is_ok()
}

impl UhciRegs {
    /// Runs the frames that are due on the controller's clock (at most
    /// [`MAX_FRAMES_PER_RUN`]; the rest are skipped). Returns whether the
    /// controller is still running.
    pub fn run_frames(&self, bus: &dyn UhciBus) -> bool {
        let mut state = lock(&self.state);
        let Some(since) = state.running_since_ns else {
            return false;
        };
        let due = state.clock.now_ns().saturating_sub(since) / NS_PER_FRAME;
        let start = state.frames_run.max(due.saturating_sub(MAX_FRAMES_PER_RUN));
        for frame in start..due {
            let frnum = ((u64::from(state.frnum) + frame) & 0x7ff) as u16;
            state.process_frame(bus, frnum);
        }
        state.frames_run = due;
        true
    }

    /// Drops the control transfer in progress on `port` (its device went).
    pub fn forget_port(&self, port: usize) {
        if let Some(c) = lock(&self.state).control.get_mut(port) {
            *c = Control::Idle;
        }
    }
}

impl State {
    /// QEMU's `uhci_process_frame`.
    fn process_frame(&mut self, bus: &dyn UhciBus, frnum: u16) {
        let entry = (self.fl_base_addr & !0xfff) + 4 * u32::from(frnum & 0x3ff);
        let Some(mut link) = read32(bus, entry) else {
            self.status |= STS_HSERR;
            return;
        };
        let mut ioc = false;
        for _ in 0..MAX_ELEMENTS {
            if link & LINK_TERMINATE != 0 {
                break;
            }
            let addr = link & !0xf;
            if link & LINK_QH != 0 {
                let Some(head) = read32(bus, addr) else { break };
                ioc |= self.run_queue(bus, addr);
                link = head;
            } else {
                let Some(next) = read32(bus, addr) else { break };
                if let Some((done_ioc, _)) = self.run_td(bus, addr) {
                    ioc |= done_ioc;
                }
                link = next;
            }
        }
        if ioc {
            self.status |= STS_USBINT;
            self.status2 |= 1;
        }
    }

    /// Runs the TDs of the queue head at `qh` until one is inactive,
    /// NAKed, failed or short; returns whether one asked for an interrupt.
    /// A completed TD (short or not) advances the queue's element link,
    /// as QEMU does; a failed one stays there for the driver.
    fn run_queue(&mut self, bus: &dyn UhciBus, qh: u32) -> bool {
        let mut ioc = false;
        for _ in 0..MAX_ELEMENTS {
            let Some(element) = read32(bus, qh + 4) else {
                break;
            };
            if element & (LINK_TERMINATE | LINK_QH) != 0 {
                break;
            }
            let td = element & !0xf;
            let Some(next) = read32(bus, td) else { break };
            let Some((done_ioc, outcome)) = self.run_td(bus, td) else {
                break;
            };
            ioc |= done_ioc;
            match outcome {
                Retired::Complete => {
                    write32(bus, qh + 4, next);
                }
                Retired::Short => {
                    write32(bus, qh + 4, next);
                    break;
                }
                Retired::Failed => break,
            }
        }
        ioc
    }

    /// Runs the TD at `td` if active. `None` if it is inactive or was
    /// NAKed (it stays active); else whether it asked for an interrupt
    /// and how it was retired.
    fn run_td(&mut self, bus: &dyn UhciBus, td: u32) -> Option<(bool, Retired)> {
        let mut words = [0u8; 16];
        bus.dma_read(td, &mut words).ok()?;
        let word = |i: usize| {
            u32::from_le_bytes([
                words[4 * i],
                words[4 * i + 1],
                words[4 * i + 2],
                words[4 * i + 3],
            ])
        };
        let (ctrl, token, buffer) = (word(1), word(2), word(3));
        if ctrl & TD_ACTIVE == 0 {
            return None;
        }
        let max_len = (((token >> 21) + 1) & 0x7ff) as usize;
        let (new_ctrl, retired) = match self.transact(bus, token, buffer, max_len) {
            Packet::Nak => {
                write32(bus, td + 4, ctrl | TD_NAK);
                return None;
            }
            Packet::Done(n) => {
                let actlen = (n as u32).wrapping_sub(1) & 0x7ff;
                let short = n < max_len;
                if short && ctrl & TD_SPD != 0 {
                    self.status2 |= 2;
                    self.status |= STS_USBINT;
                }
                let retired = if short {
                    Retired::Short
                } else {
                    Retired::Complete
                };
                ((ctrl & !(TD_ACTIVE | TD_NAK | 0x7ff)) | actlen, retired)
            }
            Packet::Error(bit) => {
                self.status |= STS_USBERR;
                ((ctrl & !(TD_ACTIVE | TD_NAK)) | bit, Retired::Failed)
            }
        };
        write32(bus, td + 4, new_ctrl);
        let ioc = new_ctrl & TD_IOC != 0 && retired != Retired::Failed;
        Some((ioc, retired))
    }

    /// The device with address `addr` on an enabled port.
    fn find(&self, bus: &dyn UhciBus, addr: u8) -> Option<(usize, Owned<UsbDevice>)> {
        (0..NUM_PORTS)
            .filter(|&p| self.ports[p].ctrl & PORT_EN != 0 && self.ports[p].device.is_some())
            .find_map(|p| {
                bus.device(p)
                    .filter(|d| d.address() == addr)
                    .map(|d| (p, d))
            })
    }

    /// One packet against the addressed device.
    fn transact(&mut self, bus: &dyn UhciBus, token: u32, buffer: u32, max_len: usize) -> Packet {
        let (pid, addr, ep) = (
            token & 0xff,
            ((token >> 8) & 0x7f) as u8,
            ((token >> 15) & 0xf) as u8,
        );
        let Some((port, device)) = self.find(bus, addr) else {
            return Packet::Error(TD_TIMEOUT);
        };
        let stall = |e: UsbError| match e {
            UsbError::Nak => Packet::Nak,
            UsbError::Stall => Packet::Error(TD_STALLED),
            UsbError::Babble | UsbError::NoDevice => Packet::Error(TD_TIMEOUT),
        };
        let mut buf = vec![0u8; max_len];
        if matches!(pid, PID_SETUP | PID_OUT) && bus.dma_read(buffer, &mut buf).is_err() {
            return Packet::Error(TD_TIMEOUT);
        }
        match (pid, ep) {
            (PID_SETUP, 0) => {
                let Ok(bytes) = <[u8; 8]>::try_from(&buf[..max_len.min(8)]) else {
                    return Packet::Error(TD_STALLED);
                };
                let setup = Setup::from_bytes(bytes);
                self.control[port] = if setup.is_in() {
                    let mut data = vec![0u8; usize::from(setup.length)];
                    match device.control(&setup, &mut data) {
                        Ok(n) => {
                            data.truncate(n);
                            Control::In { data, pos: 0 }
                        }
                        Err(e) => {
                            self.control[port] = Control::Idle;
                            return stall(e);
                        }
                    }
                } else {
                    Control::Out {
                        setup,
                        data: Vec::new(),
                    }
                };
                Packet::Done(8)
            }
            (PID_IN, 0) => match std::mem::take(&mut self.control[port]) {
                Control::In { data, pos } => {
                    let n = max_len.min(data.len() - pos);
                    if bus.dma_write(buffer, &data[pos..pos + n]).is_err() {
                        return Packet::Error(TD_TIMEOUT);
                    }
                    self.control[port] = Control::In { data, pos: pos + n };
                    Packet::Done(n)
                }
                // The status packet of an OUT transfer: now it runs.
                Control::Out { setup, mut data } => match device.control(&setup, &mut data) {
                    Ok(_) => Packet::Done(0),
                    Err(e) => stall(e),
                },
                Control::Idle => Packet::Error(TD_STALLED),
            },
            (PID_OUT, 0) => match &mut self.control[port] {
                Control::Out { setup, data } => {
                    let room = usize::from(setup.length).saturating_sub(data.len());
                    let n = max_len.min(room);
                    data.extend_from_slice(&buf[..n]);
                    Packet::Done(n)
                }
                // The status packet of an IN transfer.
                Control::In { .. } => {
                    self.control[port] = Control::Idle;
                    Packet::Done(0)
                }
                Control::Idle => Packet::Error(TD_STALLED),
            },
            (PID_IN, ep) => match device.data_in(ep, &mut buf) {
                Ok(n) => {
                    let n = n.min(max_len);
                    if bus.dma_write(buffer, &buf[..n]).is_err() {
                        return Packet::Error(TD_TIMEOUT);
                    }
                    Packet::Done(n)
                }
                Err(e) => stall(e),
            },
            (PID_OUT, ep) => match device.data_out(ep, &buf) {
                Ok(n) => Packet::Done(n.min(max_len)),
                Err(e) => stall(e),
            },
            _ => Packet::Error(TD_STALLED),
        }
    }
}

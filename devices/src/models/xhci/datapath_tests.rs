//! The data path driven as a driver drives it: rings, contexts and
//! buffers in a fake guest memory, registers written through
//! [`XhciRegs::write_with`], real USB devices on the bus. Runs under Miri
//! (the storage test needs a file and does not).

use super::context::{ep_type, CONTEXT_SIZE};
use super::trb::{cc, kind, Trb, CYCLE, DIR_IN, IDT, IOC, ISP};
use super::*;
use crate::device::Device;
use crate::usb::hid::UsbKbd;
use crate::usb::UsbDevice;
use qom_rt::prelude::*;
use std::sync::{Arc, Mutex};

const DCBAA: u64 = 0x1000;
const CMD_RING: u64 = 0x2000;
const EVT_RING: u64 = 0x3000;
const ERST: u64 = 0x4000;
const OUT_CTX: u64 = 0x8000;
const IN_CTX: u64 = 0xc000;
const EP0_RING: u64 = 0x10000;
const EP_RING: u64 = 0x11000;
const BUF: u64 = 0x18000;
const EVT_TRBS: u32 = 16;

/// Guest memory, the devices by USB bus port, and the interrupts seen.
struct Guest {
    ram: Mutex<Vec<u8>>,
    devices: Mutex<Vec<Option<Owned<UsbDevice>>>>,
    /// Interrupt calls: (vector, level).
    irqs: Mutex<Vec<(usize, bool)>>,
    msix: bool,
}

impl XhciBus for Guest {
    fn dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        let ram = self.ram.lock().unwrap();
        let at = usize::try_from(addr).map_err(|e| e.to_string())?;
        let src = ram
            .get(at..at + buf.len())
            .ok_or(format!("no memory at {addr:#x}"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn dma_write(&self, addr: u64, data: &[u8]) -> Result<(), String> {
        let mut ram = self.ram.lock().unwrap();
        let at = usize::try_from(addr).map_err(|e| e.to_string())?;
        let dst = ram
            .get_mut(at..at + data.len())
            .ok_or(format!("no memory at {addr:#x}"))?;
        dst.copy_from_slice(data);
        Ok(())
    }
    fn device(&self, uport: usize) -> Option<Owned<UsbDevice>> {
        self.devices.lock().unwrap().get(uport).cloned().flatten()
    }
    fn interrupt(&self, vector: usize, level: bool) -> bool {
        self.irqs.lock().unwrap().push((vector, level));
        self.msix
    }
}

/// A driver: the controller, guest memory, the producer state of the
/// command and endpoint rings and the consumer state of the event ring.
struct Driver {
    x: Arc<XhciRegs>,
    g: Arc<Guest>,
    cmd: (u64, bool),
    rings: Vec<(u64, bool)>,
    evt: (u32, bool),
}

impl Driver {
    fn new(msix: bool) -> Driver {
        let g = Arc::new(Guest {
            ram: Mutex::new(vec![0; 0x20000]),
            devices: Mutex::new(vec![None; 4]),
            irqs: Mutex::new(Vec::new()),
            msix,
        });
        let x = Arc::new(XhciRegs::with_usb2(4, 4));
        let rings = (0..32)
            .map(|dci| (EP_RING + 0x100 * dci as u64, true))
            .collect();
        let mut d = Driver {
            x,
            g,
            cmd: (CMD_RING, true),
            rings,
            evt: (0, true),
        };
        d.rings[1] = (EP0_RING, true);
        d
    }

    fn wr(&self, offset: u64, value: u32) {
        self.x.write_with(offset, 4, value.into(), &*self.g);
    }

    fn rd(&self, offset: u64) -> u32 {
        self.x.read(offset, 4) as u32
    }

    fn poke(&self, addr: u64, bytes: &[u8]) {
        self.g.dma_write(addr, bytes).unwrap();
    }

    fn peek(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut b = vec![0; len];
        self.g.dma_read(addr, &mut b).unwrap();
        b
    }

    fn dword(&self, addr: u64) -> u32 {
        u32::from_le_bytes(self.peek(addr, 4).try_into().unwrap())
    }

    /// Sets up the controller as SeaBIOS's `configure_xhci` does, plus
    /// interrupts, and starts it.
    fn start(&self) {
        self.wr(OPER_BASE + USBCMD, USBCMD_HCRST);
        self.wr(OPER_BASE + CONFIG, 64);
        self.wr(OPER_BASE + DCBAAP, DCBAA as u32);
        self.wr(OPER_BASE + DCBAAP + 4, 0);
        self.wr(OPER_BASE + CRCR, CMD_RING as u32 | 1);
        self.wr(OPER_BASE + CRCR + 4, 0);
        let mut erst = EVT_RING.to_le_bytes().to_vec();
        erst.extend(EVT_TRBS.to_le_bytes());
        erst.extend([0; 4]);
        self.poke(ERST, &erst);
        let intr = RUNTIME_BASE + 0x20;
        self.wr(intr + ERSTSZ, 1);
        self.wr(intr + ERDP, EVT_RING as u32);
        self.wr(intr + ERDP + 4, 0);
        self.wr(intr + ERSTBA, ERST as u32);
        self.wr(intr + ERSTBA + 4, 0);
        self.wr(intr + IMAN, IMAN_IE);
        self.wr(OPER_BASE + USBCMD, USBCMD_RS | USBCMD_INTE);
        assert_eq!(self.rd(OPER_BASE + USBSTS) & USBSTS_HCH, 0, "running");
    }

    /// Queues `trb` on a producer ring `(next, cycle)`, linking back to
    /// the ring's start (and toggling the cycle) at its last slot.
    fn queue(&self, ring: &mut (u64, bool), mut trb: Trb) -> u64 {
        let (base, size) = match ring.0 {
            a if (CMD_RING..CMD_RING + 0x1000).contains(&a) => (CMD_RING, 0x1000),
            a if (EP0_RING..EP0_RING + 0x1000).contains(&a) => (EP0_RING, 0x1000),
            a => (a & !0xff, 0x100),
        };
        if ring.0 == base + size - 16 {
            let link = Trb {
                parameter: base,
                status: 0,
                control: (kind::LINK << 10) | super::trb::LINK_TC | u32::from(ring.1),
            };
            self.poke(ring.0, &link.to_bytes());
            *ring = (base, !ring.1);
        }
        trb.control = (trb.control & !CYCLE) | u32::from(ring.1);
        let at = ring.0;
        self.poke(at, &trb.to_bytes());
        ring.0 += 16;
        at
    }

    /// The next event, if the controller wrote one; advances `ERDP`.
    fn event(&mut self) -> Option<Trb> {
        let at = EVT_RING + 16 * u64::from(self.evt.0);
        let trb = Trb::from_bytes(&self.peek(at, 16).try_into().unwrap());
        if trb.cycle() != self.evt.1 {
            return None;
        }
        self.evt.0 += 1;
        if self.evt.0 == EVT_TRBS {
            self.evt = (0, !self.evt.1);
        }
        let erdp = EVT_RING + 16 * u64::from(self.evt.0);
        self.wr(RUNTIME_BASE + 0x20 + ERDP, erdp as u32 | ERDP_EHB);
        Some(trb)
    }

    /// Issues a command; returns its completion (code, slot).
    fn command(&mut self, trb: Trb) -> (u32, usize) {
        let mut ring = self.cmd;
        let at = self.queue(&mut ring, trb);
        self.cmd = ring;
        self.wr(DOORBELL_BASE, 0);
        let e = self.event().expect("a command completion event");
        assert_eq!(
            (e.kind(), e.parameter),
            (kind::COMMAND_COMPLETION, at),
            "completion names the command"
        );
        (e.status >> 24, e.slot())
    }

    fn plug(&self, uport: usize, device: &UsbDevice, speed: UsbSpeed) -> usize {
        device.upcast::<Device>().realize().unwrap();
        self.g.devices.lock().unwrap()[uport] = Some(Owned::from(device));
        let port = self.x.root_port(uport, speed).unwrap();
        let (x, g) = (Arc::downgrade(&self.x), Arc::downgrade(&self.g));
        device.set_attached(
            Some(speed),
            Some(Arc::new(move || {
                if let (Some(x), Some(g)) = (x.upgrade(), g.upgrade()) {
                    x.wake(port, &*g);
                }
            })),
        );
        self.x.attach_with(port, Some(speed), &*self.g);
        port
    }

    /// Port reset, Enable Slot, Address Device with endpoint 0 of
    /// `max_packet` bytes; returns the slot.
    fn address(&mut self, port: usize, speed_id: u32, max_packet: u32) -> usize {
        let portsc = PORT_BASE + PORT_STRIDE * port as u64;
        self.wr(portsc, self.rd(portsc) | PORTSC_PR);
        let e = self
            .event()
            .expect("a port status change event for the reset");
        assert_eq!(
            (e.kind(), e.parameter >> 24),
            (kind::PORT_STATUS_CHANGE, port as u64 + 1)
        );
        let (code, slot) = self.command(Trb {
            control: kind::ENABLE_SLOT << 10,
            ..Trb::default()
        });
        assert_eq!(code, cc::SUCCESS);
        self.poke(DCBAA + 8 * slot as u64, &(OUT_CTX).to_le_bytes());
        let mut input = vec![0u8; 0x420];
        input[4..8].copy_from_slice(&3u32.to_le_bytes());
        let slot_ctx = [(1 << 27) | (speed_id << 20), (port as u32 + 1) << 16];
        input[32..36].copy_from_slice(&slot_ctx[0].to_le_bytes());
        input[36..40].copy_from_slice(&slot_ctx[1].to_le_bytes());
        let ep0 = [
            0,
            (ep_type::CONTROL << 3) | (max_packet << 16) | (3 << 1),
            EP0_RING as u32 | 1,
            0,
        ];
        for (i, d) in ep0.iter().enumerate() {
            input[64 + 4 * i..68 + 4 * i].copy_from_slice(&d.to_le_bytes());
        }
        self.poke(IN_CTX, &input);
        let trb = Trb {
            parameter: IN_CTX,
            control: (kind::ADDRESS_DEVICE << 10) | ((slot as u32) << 24),
            ..Trb::default()
        };
        assert_eq!(self.command(trb), (cc::SUCCESS, slot));
        slot
    }

    /// A control transfer with an IN data stage of `len` bytes into BUF;
    /// returns the transfer event and the TRBs (setup, status).
    fn control_in(&mut self, slot: usize, setup: [u8; 8], len: u32) -> (Trb, u64, u64) {
        let mut ring = self.rings[1];
        let parameter = u64::from_le_bytes(setup);
        let first = self.queue(
            &mut ring,
            Trb {
                parameter,
                status: 8,
                control: (kind::SETUP << 10) | IDT | (3 << 16),
            },
        );
        self.queue(
            &mut ring,
            Trb {
                parameter: BUF,
                status: len,
                control: (kind::DATA << 10) | DIR_IN,
            },
        );
        let status = self.queue(
            &mut ring,
            Trb {
                control: (kind::STATUS << 10) | IOC,
                ..Trb::default()
            },
        );
        self.rings[1] = ring;
        self.wr(DOORBELL_BASE + 4 * slot as u64, 1);
        let e = self.event().expect("a transfer event");
        assert_eq!(e.kind(), kind::TRANSFER_EVENT);
        (e, first, status)
    }

    /// Configure Endpoint adding `dci` of `kind`.
    fn configure(&mut self, slot: usize, dci: usize, ep_kind: u32, max_packet: u32) -> u32 {
        let mut input = vec![0u8; 0x420];
        input[4..8].copy_from_slice(&(1u32 | (1 << dci)).to_le_bytes());
        input[32..36].copy_from_slice(&((dci as u32) << 27).to_le_bytes());
        let at = 32 * (dci + 1);
        let ring = self.rings[dci].0;
        let ep = [0, (ep_kind << 3) | (max_packet << 16), ring as u32 | 1, 0];
        for (i, d) in ep.iter().enumerate() {
            input[at + 4 * i..at + 4 + 4 * i].copy_from_slice(&d.to_le_bytes());
        }
        self.poke(IN_CTX, &input);
        let trb = Trb {
            parameter: IN_CTX,
            control: (kind::CONFIGURE_ENDPOINT << 10) | ((slot as u32) << 24),
            ..Trb::default()
        };
        self.command(trb).0
    }

    fn normal(&mut self, slot: usize, dci: usize, buf: u64, len: u32, flags: u32) -> u64 {
        let mut ring = self.rings[dci];
        let at = self.queue(
            &mut ring,
            Trb {
                parameter: buf,
                status: len,
                control: (kind::NORMAL << 10) | flags,
            },
        );
        self.rings[dci] = ring;
        self.wr(DOORBELL_BASE + 4 * slot as u64, dci as u32);
        at
    }
}

#[test]
fn keyboard_enumerates_and_reports_a_key_through_the_rings() {
    let mut d = Driver::new(false);
    d.start();
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
    assert_eq!(
        port, 4,
        "a high-speed device takes the first USB 2 port, #5"
    );
    let e = d
        .event()
        .expect("a port status change event for the connect");
    assert_eq!(
        (e.kind(), e.parameter >> 24, e.status >> 24),
        (kind::PORT_STATUS_CHANGE, 5, cc::SUCCESS)
    );
    assert!(d.x.irq_level(), "IMAN.IE and USBCMD.INTE: the pin is up");
    assert_eq!(d.rd(OPER_BASE + USBSTS) & USBSTS_EINT, USBSTS_EINT);
    d.wr(RUNTIME_BASE + 0x20 + IMAN, IMAN_IE | IMAN_IP);
    assert!(!d.x.irq_level(), "IMAN.IP written with 1 clears");
    assert_eq!(d.g.irqs.lock().unwrap().last(), Some(&(0, false)));

    let slot = d.address(port, 3, 64);
    assert_eq!(slot, 1);
    assert_eq!(
        kbd.upcast::<UsbDevice>().address(),
        1,
        "SET_ADDRESS reached the device"
    );
    let out_slot = d.dword(OUT_CTX + 12);
    assert_eq!(
        (out_slot >> 27, out_slot & 0xff),
        (2, 1),
        "addressed, address 1"
    );
    assert_eq!(d.dword(OUT_CTX + CONTEXT_SIZE) & 7, 1, "endpoint 0 running");

    let (e, _, status) = d.control_in(slot, [0x80, 6, 0, 1, 0, 0, 18, 0], 18);
    assert_eq!(
        (e.parameter, e.status >> 24, e.status & 0xff_ffff),
        (status, cc::SUCCESS, 0)
    );
    let desc = d.peek(BUF, 18);
    assert_eq!(
        (desc[0], desc[1], u16::from_le_bytes([desc[8], desc[9]])),
        (18, 1, 0x0627)
    );
    // A short data stage without ISP: no event for it, success on status.
    let (e, _, status) = d.control_in(slot, [0x80, 6, 0, 2, 0, 0, 255, 0], 255);
    assert_eq!((e.parameter, e.status >> 24), (status, cc::SUCCESS));
    assert_eq!(d.peek(BUF + 2, 2), [34, 0], "configuration total length");

    assert_eq!(d.configure(slot, 3, ep_type::INTERRUPT_IN, 8), cc::SUCCESS);
    assert_eq!(d.dword(OUT_CTX + 12) >> 27, 3, "configured");
    assert_eq!(
        d.dword(OUT_CTX + 3 * CONTEXT_SIZE) & 7,
        1,
        "endpoint 1 IN running"
    );

    let first = d.normal(slot, 3, BUF + 0x100, 8, IOC);
    assert_eq!(d.event(), None, "no key: the transfer waits");
    kbd.send_keys("shift-a").unwrap();
    let e = d.event().expect("the key's report completes the transfer");
    assert_eq!(
        (e.kind(), e.parameter, e.status >> 24),
        (kind::TRANSFER_EVENT, first, cc::SUCCESS)
    );
    assert_eq!((e.slot(), e.endpoint()), (slot, 3));
    assert_eq!(d.peek(BUF + 0x100, 8), [2, 0, 4, 0, 0, 0, 0, 0]);
    let second = d.normal(slot, 3, BUF + 0x100, 8, IOC);
    let e = d.event().expect("the release report was queued");
    assert_eq!(e.parameter, second);
    assert_eq!(d.peek(BUF + 0x100, 8), [0; 8]);

    // Stop Endpoint with a transfer waiting: it completes as stopped.
    let waiting = d.normal(slot, 3, BUF + 0x100, 8, IOC);
    let mut ring = d.cmd;
    let at = d.queue(
        &mut ring,
        Trb {
            control: (kind::STOP_ENDPOINT << 10) | (3 << 16) | ((slot as u32) << 24),
            ..Trb::default()
        },
    );
    d.cmd = ring;
    d.wr(DOORBELL_BASE, 0);
    let stopped = d.event().unwrap();
    assert_eq!(
        (stopped.kind(), stopped.parameter, stopped.status >> 24),
        (kind::TRANSFER_EVENT, waiting, cc::STOPPED)
    );
    let done = d.event().unwrap();
    assert_eq!(
        (done.kind(), done.parameter, done.status >> 24),
        (kind::COMMAND_COMPLETION, at, cc::SUCCESS)
    );
    assert_eq!(
        d.dword(OUT_CTX + 3 * CONTEXT_SIZE) & 7,
        3,
        "stopped in its context"
    );
    let deq = d.dword(OUT_CTX + 3 * CONTEXT_SIZE + 8) & !0xf;
    assert_eq!(
        u64::from(deq),
        waiting,
        "the dequeue pointer stays on the stopped TD"
    );
    // Set TR Dequeue past it, and the doorbell runs the endpoint again.
    let next = waiting + 16;
    let code = d.command(Trb {
        parameter: next | 1,
        control: (kind::SET_TR_DEQUEUE << 10) | (3 << 16) | ((slot as u32) << 24),
        ..Trb::default()
    });
    assert_eq!(code, (cc::SUCCESS, slot));
    assert_eq!(u64::from(d.dword(OUT_CTX + 3 * CONTEXT_SIZE + 8)), next | 1);
    assert_eq!(
        d.command(Trb {
            control: kind::NOOP_COMMAND << 10,
            ..Trb::default()
        }),
        (cc::SUCCESS, 0)
    );
}

#[test]
fn commands_check_their_slot_endpoint_and_context_state() {
    let mut d = Driver::new(false);
    d.start();
    let cmd = |k: u32, slot: u32, ep: u32| Trb {
        control: (k << 10) | (ep << 16) | (slot << 24),
        ..Trb::default()
    };
    assert_eq!(
        d.command(cmd(kind::DISABLE_SLOT, 1, 0)).0,
        cc::SLOT_NOT_ENABLED
    );
    assert_eq!(d.command(cmd(kind::DISABLE_SLOT, 65, 0)).0, cc::TRB_ERROR);
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::Full);
    assert_eq!(d.event().unwrap().kind(), kind::PORT_STATUS_CHANGE);
    let slot = d.address(port, 1, 64) as u32;
    assert_eq!(
        d.command(cmd(kind::RESET_ENDPOINT, slot, 1)).0,
        cc::CONTEXT_STATE,
        "not halted"
    );
    assert_eq!(
        d.command(cmd(kind::STOP_ENDPOINT, slot, 5)).0,
        cc::EP_NOT_ENABLED
    );
    assert_eq!(
        d.command(cmd(kind::SET_TR_DEQUEUE, slot, 1)).0,
        cc::CONTEXT_STATE,
        "running, not stopped"
    );
    // A control request the device stalls halts endpoint 0.
    let (e, setup, _) = d.control_in(slot as usize, [0xc0, 0x55, 0, 0, 0, 0, 8, 0], 8);
    assert_eq!(
        (e.parameter, e.status >> 24),
        (setup, cc::STALL),
        "reported on the setup TRB, as QEMU"
    );
    assert_eq!(d.dword(OUT_CTX + CONTEXT_SIZE) & 7, 2, "halted");
    assert_eq!(d.command(cmd(kind::RESET_ENDPOINT, slot, 1)).0, cc::SUCCESS);
    assert_eq!(
        d.dword(OUT_CTX + CONTEXT_SIZE) & 7,
        3,
        "stopped after Reset Endpoint"
    );
    assert_eq!(d.command(cmd(kind::RESET_DEVICE, slot, 0)).0, cc::SUCCESS);
    assert_eq!(d.dword(OUT_CTX + 12) >> 27, 1, "default state");
    assert_eq!(d.command(cmd(kind::DISABLE_SLOT, slot, 0)).0, cc::SUCCESS);
    assert_eq!(
        d.command(cmd(kind::RESET_DEVICE, slot, 0)).0,
        cc::SLOT_NOT_ENABLED
    );
    assert_eq!(
        d.command(cmd(kind::ENABLE_SLOT, 0, 0)),
        (cc::SUCCESS, 1),
        "slot 1 is free again"
    );
    assert_eq!(d.command(cmd(63, 1, 0)).0, cc::TRB_ERROR, "unknown command");
}

#[test]
fn unplugged_device_fails_its_transfers_and_halts_the_endpoint() {
    let mut d = Driver::new(false);
    d.start();
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
    d.event();
    let slot = d.address(port, 3, 64);
    assert_eq!(d.configure(slot, 3, ep_type::INTERRUPT_IN, 8), cc::SUCCESS);
    d.normal(slot, 3, BUF, 8, IOC);
    assert_eq!(d.event(), None, "waiting for a key");
    // Unplug: the bus forgets the device, the port reports the change.
    d.g.devices.lock().unwrap()[0] = None;
    kbd.upcast::<UsbDevice>().set_attached(None, None);
    d.x.attach_with(port, None, &*d.g);
    let e = d.event().unwrap();
    assert_eq!(
        (e.kind(), e.parameter >> 24),
        (kind::PORT_STATUS_CHANGE, port as u64 + 1)
    );
    assert_eq!(d.rd(PORT_BASE + PORT_STRIDE * port as u64) & PORTSC_CCS, 0);
    // The key that comes now reaches nobody; the next doorbell fails.
    assert!(kbd.send_keys("a").is_ok());
    assert_eq!(d.event(), None);
    d.wr(DOORBELL_BASE + 4 * slot as u64, 3);
    let e = d
        .event()
        .expect("the waiting TD fails at the next doorbell");
    assert_eq!(
        (e.kind(), e.status >> 24),
        (kind::TRANSFER_EVENT, cc::USB_TRANSACTION)
    );
    assert_eq!(d.dword(OUT_CTX + 3 * CONTEXT_SIZE) & 7, 2, "halted");
    d.wr(DOORBELL_BASE + 4 * slot as u64, 3);
    assert_eq!(d.event(), None, "a halted endpoint ignores its doorbell");
}

#[test]
fn event_ring_full_then_room_again() {
    let mut d = Driver::new(false);
    d.start();
    let noop = Trb {
        control: kind::NOOP_COMMAND << 10,
        ..Trb::default()
    };
    // 20 commands with no ERDP update: 15 completions fit, the 16th slot
    // takes Event Ring Full and the rest are dropped.
    for _ in 0..20 {
        let mut ring = d.cmd;
        d.queue(&mut ring, noop);
        d.cmd = ring;
    }
    d.wr(DOORBELL_BASE, 0);
    let mut kinds = Vec::new();
    for n in 0..EVT_TRBS as u64 {
        let trb = Trb::from_bytes(&d.peek(EVT_RING + 16 * n, 16).try_into().unwrap());
        kinds.push((trb.kind(), trb.status >> 24));
    }
    assert!(kinds[..15]
        .iter()
        .all(|&k| k == (kind::COMMAND_COMPLETION, cc::SUCCESS)));
    assert_eq!(kinds[15], (kind::HOST_CONTROLLER, cc::EVENT_RING_FULL));
    for _ in 0..16 {
        assert!(d.event().is_some());
    }
    assert_eq!(d.event(), None);
    assert_eq!(
        d.command(noop).0,
        cc::SUCCESS,
        "events flow again once ERDP moved"
    );
}

#[test]
fn msix_interrupts_leave_nothing_pending_and_moderation_holds_them() {
    let mut d = Driver::new(true);
    d.start();
    d.wr(RUNTIME_BASE + 0x20 + IMOD, 4000); // 1 ms
    let noop = Trb {
        control: kind::NOOP_COMMAND << 10,
        ..Trb::default()
    };
    let messages = |d: &Driver| d.g.irqs.lock().unwrap().iter().filter(|i| i.1).count();
    d.command(noop);
    assert_eq!(messages(&d), 1);
    assert_eq!(
        d.rd(RUNTIME_BASE + 0x20 + IMAN) & IMAN_IP,
        0,
        "a message leaves IP clear"
    );
    d.command(noop);
    assert_eq!(messages(&d), 1, "inside the interval: held");
    d.x.advance(999_000);
    d.wr(OPER_BASE + DNCTRL, 0);
    assert_eq!(messages(&d), 1, "still inside");
    d.x.advance(1_000);
    d.wr(OPER_BASE + DNCTRL, 0);
    assert_eq!(messages(&d), 2, "released after 1 ms");
}

#[test]
fn malformed_rings_do_not_hang_or_panic() {
    let d = Driver::new(false);
    d.start();
    // A command ring made only of links to itself.
    let link = Trb {
        parameter: CMD_RING,
        control: (kind::LINK << 10) | CYCLE,
        ..Trb::default()
    };
    d.poke(CMD_RING, &link.to_bytes());
    d.wr(DOORBELL_BASE, 0);
    assert_eq!(
        d.rd(OPER_BASE + USBSTS) & USBSTS_HCE,
        USBSTS_HCE,
        "host controller error"
    );
    // A doorbell for a slot or endpoint that does not exist.
    d.wr(DOORBELL_BASE + 4 * 9, 3);
    d.wr(DOORBELL_BASE + 4 * 64, 31);
    // A ring pointing outside memory.
    d.wr(OPER_BASE + USBCMD, 0);
    d.wr(OPER_BASE + CRCR, 0xfff0_0001);
    d.wr(OPER_BASE + CRCR + 4, 0xffff_ffff);
    d.wr(OPER_BASE + USBCMD, USBCMD_RS);
    d.wr(DOORBELL_BASE, 0);
}

#[test]
fn short_packet_with_isp_reports_the_residue() {
    let mut d = Driver::new(false);
    d.start();
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
    d.event();
    let slot = d.address(port, 3, 64);
    assert_eq!(d.configure(slot, 3, ep_type::INTERRUPT_IN, 8), cc::SUCCESS);
    kbd.send_keys("b").unwrap();
    // A 64-byte TRB gets the 8-byte report: short packet, 56 left.
    let at = d.normal(slot, 3, BUF, 64, IOC | ISP);
    let e = d.event().unwrap();
    assert_eq!(
        (e.parameter, e.status >> 24, e.status & 0xff_ffff),
        (at, cc::SHORT_PACKET, 56)
    );
    assert_eq!(d.peek(BUF, 8), [0, 0, 5, 0, 0, 0, 0, 0]);
}

#[cfg(not(miri))]
#[test]
fn storage_reads_and_writes_its_image_over_bulk_rings() {
    use crate::usb::storage::UsbStorage;
    let path = std::env::temp_dir().join(format!("qom-xhci-bot-{}.img", std::process::id()));
    std::fs::write(
        &path,
        (0..16 * 512).map(|i| (i / 512) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let mut d = Driver::new(false);
    d.start();
    let disk = Owned::<UsbStorage>::new();
    disk.set_property("file", &path.display().to_string())
        .unwrap();
    let port = d.plug(0, disk.upcast(), UsbSpeed::Super);
    assert_eq!(port, 0, "SuperSpeed takes USB 3 port #1");
    d.event();
    let slot = d.address(port, 4, 512);
    assert_eq!(d.configure(slot, 3, ep_type::BULK_IN, 1024), cc::SUCCESS);
    assert_eq!(d.configure(slot, 4, ep_type::BULK_OUT, 1024), cc::SUCCESS);
    let cbw = |tag: u8, len: u32, to_host: bool, cdb: &[u8]| {
        let mut c = vec![0u8; 31];
        c[..4].copy_from_slice(b"USBC");
        c[4] = tag;
        c[8..12].copy_from_slice(&len.to_le_bytes());
        c[12] = if to_host { 0x80 } else { 0 };
        c[14] = cdb.len() as u8;
        c[15..15 + cdb.len()].copy_from_slice(cdb);
        c
    };
    let bulk = |d: &mut Driver, dci: usize, buf: u64, len: u32| {
        let at = d.normal(slot, dci, buf, len, IOC);
        let e = d.event().expect("bulk transfer event");
        assert_eq!(
            (e.parameter, e.status >> 24, e.status & 0xff_ffff),
            (at, cc::SUCCESS, 0)
        );
    };
    // READ(10) of blocks 3-4 into two 512-byte TRBs chained.
    d.poke(BUF, &cbw(1, 1024, true, &[0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0]));
    bulk(&mut d, 4, BUF, 31);
    let mut ring = d.rings[3];
    d.queue(
        &mut ring,
        Trb {
            parameter: BUF + 0x200,
            status: 512,
            control: (kind::NORMAL << 10) | super::trb::CHAIN,
        },
    );
    let last = d.queue(
        &mut ring,
        Trb {
            parameter: BUF + 0x1000,
            status: 512,
            control: (kind::NORMAL << 10) | IOC,
        },
    );
    d.rings[3] = ring;
    d.wr(DOORBELL_BASE + 4 * slot as u64, 3);
    let e = d.event().unwrap();
    assert_eq!((e.parameter, e.status >> 24), (last, cc::SUCCESS));
    assert!(d.peek(BUF + 0x200, 512).iter().all(|&b| b == 3));
    assert!(d.peek(BUF + 0x1000, 512).iter().all(|&b| b == 4));
    bulk(&mut d, 3, BUF + 0x2000, 13);
    assert_eq!(
        d.peek(BUF + 0x2000, 13),
        [b'U', b'S', b'B', b'S', 1, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    // WRITE(10) of block 7.
    d.poke(BUF, &cbw(2, 512, false, &[0x2a, 0, 0, 0, 0, 7, 0, 0, 1, 0]));
    bulk(&mut d, 4, BUF, 31);
    d.poke(BUF + 0x200, &[0x5a; 512]);
    bulk(&mut d, 4, BUF + 0x200, 512);
    bulk(&mut d, 3, BUF + 0x2000, 13);
    assert_eq!(d.peek(BUF + 0x2000 + 12, 1), [0], "CSW status good");
    let image = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(image[7 * 512..8 * 512].iter().all(|&b| b == 0x5a));
    assert!(image[6 * 512..7 * 512].iter().all(|&b| b == 6));
}

/// Rounds of the race below: a few under Miri, more natively.
const RACE_ROUNDS: usize = if cfg!(miri) { 4 } else { 2000 };

impl Driver {
    /// Drains the event ring; returns the events seen.
    fn drain(&mut self) -> Vec<Trb> {
        std::iter::from_fn(|| self.event()).collect()
    }

    /// Issues a command and finds its completion among whatever else the
    /// event ring holds (port changes from the other thread).
    fn command_among(&mut self, trb: Trb) -> Option<u32> {
        let mut ring = self.cmd;
        let at = self.queue(&mut ring, trb);
        self.cmd = ring;
        self.wr(DOORBELL_BASE, 0);
        self.drain()
            .into_iter()
            .find(|e| e.kind() == kind::COMMAND_COMPLETION && e.parameter == at)
            .map(|e| e.status >> 24)
    }

    /// Makes endpoint `dci` runnable again at the producer's position,
    /// skipping whatever TDs it had (a driver's recovery after a halt).
    fn recover(&mut self, slot: usize, dci: usize) {
        let ids = ((slot as u32) << 24) | ((dci as u32) << 16);
        if d_state(self, dci) == 2 {
            self.command_among(Trb {
                control: (kind::RESET_ENDPOINT << 10) | ids,
                ..Trb::default()
            });
        }
        if d_state(self, dci) == 1 {
            self.command_among(Trb {
                control: (kind::STOP_ENDPOINT << 10) | ids,
                ..Trb::default()
            });
        }
        let (next, cycle) = self.rings[dci];
        let target = next | u64::from(cycle);
        // The completion may have been dropped (the other thread's port
        // changes can fill the event ring); the context tells anyway.
        let code = self.command_among(Trb {
            parameter: target,
            control: (kind::SET_TR_DEQUEUE << 10) | ids,
            ..Trb::default()
        });
        assert!(
            matches!(code, Some(cc::SUCCESS) | None),
            "Set TR Dequeue on a stopped endpoint: {code:?}"
        );
        let deq = self.dword(OUT_CTX + CONTEXT_SIZE * dci as u64 + 8);
        assert_eq!(u64::from(deq), target, "the dequeue pointer moved");
    }
}

/// Endpoint `dci`'s state in slot 1's output context.
fn d_state(d: &Driver, dci: usize) -> u32 {
    d.dword(OUT_CTX + CONTEXT_SIZE * dci as u64) & 7
}

/// The device-level version of the unplug-with-DMA tests: one thread
/// drives interrupt transfers (DMA into guest memory, events) while
/// another unplugs and replugs the keyboard. No panic, no transfer
/// reaches a device that is not plugged, and the controller works
/// normally afterwards.
#[test]
fn transfers_race_unplug_and_replug() {
    let mut d = Driver::new(false);
    d.start();
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
    d.drain();
    let slot = d.address(port, 3, 64);
    assert_eq!(d.configure(slot, 3, ep_type::INTERRUPT_IN, 8), cc::SUCCESS);
    let (x, g, plugger) = (d.x.clone(), d.g.clone(), kbd.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopper = stop.clone();
    let start = Arc::new(std::sync::Barrier::new(2));
    let starter = start.clone();
    let unplugger = std::thread::spawn(move || {
        let usb = plugger.upcast::<UsbDevice>();
        starter.wait();
        let mut cycles = 0;
        while cycles < RACE_ROUNDS || !stopper.load(std::sync::atomic::Ordering::Acquire) {
            cycles += 1;
            g.devices.lock().unwrap()[0] = None;
            usb.set_attached(None, None);
            x.attach_with(port, None, &*g);
            std::thread::yield_now();
            g.devices.lock().unwrap()[0] = Some(Owned::from(usb));
            let (xw, gw) = (Arc::downgrade(&x), Arc::downgrade(&g));
            usb.set_attached(
                Some(UsbSpeed::High),
                Some(Arc::new(move || {
                    if let (Some(x), Some(g)) = (xw.upgrade(), gw.upgrade()) {
                        x.wake(port, &*g);
                    }
                })),
            );
            x.attach_with(port, Some(UsbSpeed::High), &*g);
            std::thread::sleep(std::time::Duration::from_micros(10));
        }
        cycles
    });
    let (mut good, mut failed) = (0, 0);
    start.wait();
    for _ in 0..RACE_ROUNDS {
        let _ = kbd.send_keys("a");
        d.normal(slot, 3, BUF, 8, IOC);
        for e in d.drain() {
            match (e.kind(), e.status >> 24) {
                (kind::TRANSFER_EVENT, cc::SUCCESS) => good += 1,
                (kind::TRANSFER_EVENT, code) => {
                    assert_eq!(code, cc::USB_TRANSACTION, "only 'no device' failures");
                    failed += 1;
                }
                _ => {}
            }
        }
        if d_state(&d, 3) == 2 {
            d.recover(slot, 3);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let cycles = unplugger
        .join()
        .expect("the unplugging thread did not panic");
    // Afterwards: plugged, and a clean transfer works.
    d.drain();
    d.recover(slot, 3);
    while kbd.queued() > 0 {
        let mut r = [0u8; 8];
        let _ = kbd.upcast::<UsbDevice>().data_in(1, &mut r);
    }
    kbd.send_keys("z").unwrap();
    let at = d.normal(slot, 3, BUF, 8, IOC);
    let done = d
        .drain()
        .into_iter()
        .find(|e| e.parameter == at)
        .expect("the last transfer completes");
    assert_eq!(done.status >> 24, cc::SUCCESS);
    assert_eq!(d.peek(BUF, 8), [0, 0, 29, 0, 0, 0, 0, 0]);
    eprintln!("{RACE_ROUNDS} rounds against {cycles} unplug/replug cycles: {good} transfers completed, {failed} failed for want of a device");
}

/// Iterations of the random-guest test below.
const RANDOM_ROUNDS: u64 = if cfg!(miri) { 3 } else { 2000 };

/// A guest that writes garbage: random guest memory (rings, contexts and
/// tables made of noise, with the odd valid-looking TRB) and random
/// register writes, with a keyboard and its reports on the bus. Whatever
/// it does, the controller must not panic, hang or touch memory outside
/// what the guest owns (the fake bus refuses it), and must still answer
/// registers afterwards.
#[test]
fn random_guests_never_panic_the_controller() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*: deterministic, so a failure reproduces.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut raised = 0;
    for _ in 0..RANDOM_ROUNDS {
        let d = Driver::new(next() & 1 == 1);
        let kbd = Owned::<UsbKbd>::new();
        let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
        {
            // Noise over the first 64 KiB, with valid TRB types sprinkled
            // in so that the command and transfer paths run deep.
            let mut ram = d.g.ram.lock().unwrap();
            for chunk in ram[..0x10000].chunks_mut(8) {
                chunk.copy_from_slice(&next().to_le_bytes());
            }
            for i in 0..512 {
                let at = (next() % 0x1000) as usize * 16;
                let kind = 1 + next() % 24;
                let control = ((kind << 10) | (next() & 0xff03_03f1)) as u32;
                ram[at + 12..at + 16].copy_from_slice(&control.to_le_bytes());
                if i % 4 == 0 {
                    // A pointer into guest memory rather than anywhere.
                    ram[at..at + 8].copy_from_slice(&((next() % 0x10000) & !0xf).to_le_bytes());
                }
            }
        }
        let _ = kbd.send_keys("a");
        d.start();
        for _ in 0..200 {
            let offset = match next() % 6 {
                0 => (OPER_BASE + next() % 0x40) & !3,
                1 => (PORT_BASE + PORT_STRIDE * (next() % 8)) & !3,
                2 => (RUNTIME_BASE + 0x20 + next() % 0x20) & !3,
                3 | 4 => DOORBELL_BASE + 4 * (next() % 66),
                _ => (next() % 0x4000) & !3,
            };
            let value = match next() % 3 {
                0 => next() as u32 & 0xff,
                1 => next() as u32 % 0x10000,
                _ => next() as u32,
            };
            d.wr(offset, value);
            if next() % 16 == 0 {
                let _ = kbd.send_keys("b");
            }
        }
        let _ = port;
        // Still a controller: the capability registers answer.
        assert_eq!(d.rd(CAPLENGTH_HCIVERSION), 0x0100_0040);
        raised += d.g.irqs.lock().unwrap().iter().filter(|i| i.1).count();
    }
    // The noise went deep enough to produce events and interrupts (in
    // enough rounds to say so: Miri runs only a few).
    if RANDOM_ROUNDS >= 100 {
        assert!(raised > 0, "no interrupt in {RANDOM_ROUNDS} random guests");
    }
    eprintln!("{RANDOM_ROUNDS} random guests: {raised} interrupts raised");
}

#[test]
fn event_data_trbs_report_their_value_and_the_bytes_moved_and_ehb_follows_erdp() {
    let mut d = Driver::new(false);
    d.start();
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
    // Event handler busy: set with the event, cleared by the driver.
    let erdp = RUNTIME_BASE + 0x20 + ERDP;
    assert_eq!(
        d.rd(erdp) & ERDP_EHB,
        ERDP_EHB,
        "busy: an event was written"
    );
    d.event();
    assert_eq!(
        d.rd(erdp) & ERDP_EHB,
        0,
        "cleared by writing ERDP with EHB set"
    );
    let slot = d.address(port, 3, 64);
    assert_eq!(d.configure(slot, 3, ep_type::INTERRUPT_IN, 8), cc::SUCCESS);
    kbd.send_keys("c").unwrap();
    // A Normal TRB chained to an Event Data TRB that asks for the event.
    let mut ring = d.rings[3];
    d.queue(
        &mut ring,
        Trb {
            parameter: BUF,
            status: 8,
            control: (kind::NORMAL << 10) | super::trb::CHAIN,
        },
    );
    d.queue(
        &mut ring,
        Trb {
            parameter: 0xdead_beef,
            status: 0,
            control: (kind::EVENT_DATA << 10) | IOC,
        },
    );
    d.rings[3] = ring;
    d.wr(DOORBELL_BASE + 4 * slot as u64, 3);
    let e = d.event().expect("the Event Data TRB's event");
    assert_eq!(
        e.parameter, 0xdead_beef,
        "the driver's value, not a TRB address"
    );
    assert_eq!(
        (e.status >> 24, e.status & 0xff_ffff),
        (cc::SUCCESS, 8),
        "EDTLA: 8 bytes"
    );
    assert_ne!(e.control & super::trb::EVENT_DATA_FLAG, 0, "ED flag");
    assert_eq!(d.peek(BUF, 8), [0, 0, 6, 0, 0, 0, 0, 0]);
}

/// Every register of BAR 0 a guest reads (capability, operational, port,
/// runtime and interrupter registers; doorbells read 0). Under Miri the
/// operational registers, the ports and interrupter 0 only.
fn bar0_view(x: &XhciRegs) -> Vec<u64> {
    let registers: Vec<u64> = if cfg!(miri) {
        (OPER_BASE..OPER_BASE + 0x40)
            .chain(PORT_BASE..PORT_BASE + 8 * PORT_STRIDE)
            .chain(RUNTIME_BASE..RUNTIME_BASE + 0x40)
            .step_by(4)
            .collect()
    } else {
        (0..DOORBELL_BASE).step_by(4).collect()
    };
    registers.iter().map(|&r| x.read(r, 4)).collect()
}

/// Migration: a running controller with an addressed, configured keyboard
/// and an interrupt IN transfer waiting for a key moves to a fresh
/// controller (guest memory and the device shared, as they are once RAM
/// and the device's own section have migrated). Every register reads the
/// same, the waiting TD completes on the destination when the key comes
/// (it was fetched again from the ring), and the command and event rings
/// carry on where the source left them.
#[test]
fn migrates_mid_run_and_the_waiting_transfer_completes_on_the_destination() {
    use qom_rt::migration::{LoadContext, MigrateField, VmState};
    let mut d = Driver::new(false);
    d.start();
    let kbd = Owned::<UsbKbd>::new();
    let port = d.plug(0, kbd.upcast(), UsbSpeed::High);
    let _ = d.event();
    d.wr(RUNTIME_BASE + 0x20 + IMAN, IMAN_IE | IMAN_IP);
    let slot = d.address(port, 3, 64);
    assert_eq!(d.configure(slot, 3, ep_type::INTERRUPT_IN, 8), cc::SUCCESS);
    let waiting = d.normal(slot, 3, BUF + 0x100, 8, IOC);
    assert_eq!(d.event(), None, "no key: the transfer waits");

    let saved = <XhciRegs as MigrateField>::save(&d.x);
    let snapshot = XhciSnapshot::from_value(&saved, &LoadContext::new(1)).unwrap();
    let destination = Arc::new(XhciRegs::with_usb2(4, 4));
    assert_ne!(
        bar0_view(&destination),
        bar0_view(&d.x),
        "the test can fail"
    );
    destination.attach(port, UsbSpeed::High);
    <XhciRegs as MigrateField>::restore(&destination, snapshot);
    assert_eq!(bar0_view(&destination), bar0_view(&d.x));
    // The source stops; the destination takes the device's wake-ups.
    let source = std::mem::replace(&mut d.x, destination);
    drop(source);
    let (x, g) = (Arc::downgrade(&d.x), Arc::downgrade(&d.g));
    kbd.upcast::<UsbDevice>().set_attached(
        Some(UsbSpeed::High),
        Some(Arc::new(move || {
            if let (Some(x), Some(g)) = (x.upgrade(), g.upgrade()) {
                x.wake(port, &*g);
            }
        })),
    );
    kbd.send_keys("a").unwrap();
    let e = d
        .event()
        .expect("the waiting TD completes on the destination");
    assert_eq!(
        (e.kind(), e.parameter, e.status >> 24),
        (kind::TRANSFER_EVENT, waiting, cc::SUCCESS)
    );
    assert_eq!(d.peek(BUF + 0x100, 8), [0, 0, 4, 0, 0, 0, 0, 0]);
    // The command ring continues at the source's dequeue pointer.
    assert_eq!(
        d.command(Trb {
            control: kind::NOOP_COMMAND << 10,
            ..Trb::default()
        }),
        (cc::SUCCESS, 0)
    );
}

/// A snapshot whose event ring position is past its segment is refused.
#[test]
fn a_snapshot_with_the_event_ring_position_past_its_segment_is_refused() {
    use qom_rt::migration::{LoadContext, MigrateField, Value, VmState};
    let d = Driver::new(false);
    d.start();
    let Value::Struct(mut fields) = <XhciRegs as MigrateField>::save(&d.x) else {
        panic!("a struct");
    };
    let index = fields.iter_mut().find(|(n, _)| n == "event_index").unwrap();
    index.1 = Value::U32(EVT_TRBS);
    let err = XhciSnapshot::from_value(&Value::Struct(fields), &LoadContext::new(1))
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "event ring position 0:16 is past its one segment of 16 TRBs"
    );
}

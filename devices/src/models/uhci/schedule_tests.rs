//! The UHCI schedule driven as a driver drives it: a frame list, a queue
//! head and TDs in a fake guest memory, real USB devices on the ports,
//! frames run on the controller's own clock. Runs under Miri.

use super::*;
use crate::device::Device;
use crate::usb::hid::UsbKbd;
use crate::usb::UsbDevice;
use qom_rt::prelude::*;
use std::sync::Mutex;

const FRAME_LIST: u32 = 0x1000;
const QH: u32 = 0x2000;
const TDS: u32 = 0x3000;
const BUF: u32 = 0x4000;

struct Guest {
    ram: Mutex<Vec<u8>>,
    ports: [Option<Owned<UsbDevice>>; NUM_PORTS],
}

impl UhciBus for Guest {
    fn dma_read(&self, addr: u32, buf: &mut [u8]) -> Result<(), String> {
        let ram = self.ram.lock().unwrap();
        let at = addr as usize;
        buf.copy_from_slice(ram.get(at..at + buf.len()).ok_or("no memory")?);
        Ok(())
    }
    fn dma_write(&self, addr: u32, data: &[u8]) -> Result<(), String> {
        let mut ram = self.ram.lock().unwrap();
        let at = addr as usize;
        ram.get_mut(at..at + data.len())
            .ok_or("no memory")?
            .copy_from_slice(data);
        Ok(())
    }
    fn device(&self, port: usize) -> Option<Owned<UsbDevice>> {
        self.ports.get(port).cloned().flatten()
    }
}

impl Guest {
    fn poke32(&self, addr: u32, v: u32) {
        self.dma_write(addr, &v.to_le_bytes()).unwrap();
    }
    fn peek32(&self, addr: u32) -> u32 {
        let mut b = [0u8; 4];
        self.dma_read(addr, &mut b).unwrap();
        u32::from_le_bytes(b)
    }
    /// TD `n` at TDS + 32 n: link, control (active, IOC if asked), token
    /// for `(pid, address, endpoint)`, buffer.
    fn td(&self, n: u32, link: u32, (pid, addr, ep): (u32, u32, u32), len: u32, ioc: bool) -> u32 {
        let at = TDS + 32 * n;
        let ctrl = (1 << 23) | if ioc { 1 << 24 } else { 0 };
        let token = pid | (addr << 8) | (ep << 15) | (((len.wrapping_sub(1)) & 0x7ff) << 21);
        for (i, v) in [link, ctrl, token, BUF + 0x100 * n].into_iter().enumerate() {
            self.poke32(at + 4 * i as u32, v);
        }
        at
    }
}

fn setup_controller(keyboard: &Owned<UsbKbd>) -> (UhciRegs, Guest) {
    keyboard.upcast::<Device>().realize().unwrap();
    let usb = keyboard.upcast::<UsbDevice>();
    usb.set_attached(Some(UsbSpeed::Full), None);
    let g = Guest {
        ram: Mutex::new(vec![0; 0x8000]),
        ports: [Some(Owned::from(usb)), None],
    };
    // Every frame points at the one queue head, which ends the list.
    for f in 0..1024 {
        g.poke32(FRAME_LIST + 4 * f, QH | 2);
    }
    g.poke32(QH, 1);
    g.poke32(QH + 4, 1);
    let u = UhciRegs::new();
    assert!(u.attach(0, UsbSpeed::Full));
    u.write(PORTSC1, 2, u64::from(PORT_EN));
    u.write(FRBASEADD, 4, u64::from(FRAME_LIST));
    u.write(USBINTR, 2, u64::from(INTR_IOC));
    u.write(USBCMD, 2, u64::from(CMD_RS));
    (u, g)
}

#[test]
fn get_descriptor_runs_as_setup_in_packets_and_status() {
    let kbd = Owned::<UsbKbd>::new();
    let (u, g) = setup_controller(&kbd);
    // SETUP GET_DESCRIPTOR(device, 18), IN 8 + 8 + 2, OUT status with IOC.
    let setup = [0x80u8, 6, 0, 1, 0, 0, 18, 0];
    g.dma_write(BUF, &setup).unwrap();
    let t3 = g.td(3, 1, (0xe1, 0, 0), 0, true);
    let t2 = g.td(2, t3 | 4, (0x69, 0, 0), 8, false);
    let t1 = g.td(1, t2 | 4, (0x69, 0, 0), 8, false);
    let t0 = g.td(0, t1 | 4, (0x2d, 0, 0), 8, false);
    g.poke32(QH + 4, t0);
    u.advance(1_000_000);
    assert!(u.run_frames(&g));
    assert_eq!(g.peek32(QH + 4), 1, "the queue ran to its end in one frame");
    for (td, len) in [(t0, 8), (t1, 8), (t2, 8), (t3, 0)] {
        let ctrl = g.peek32(td + 4);
        assert_eq!(ctrl & (1 << 23), 0, "retired");
        assert_eq!(
            (ctrl + 1) & 0x7ff,
            len,
            "actual length of the TD at {td:#x}"
        );
    }
    let mut desc = [0u8; 16];
    g.dma_read(BUF + 0x100, &mut desc[..8]).unwrap();
    g.dma_read(BUF + 0x200, &mut desc[8..]).unwrap();
    assert_eq!(
        (desc[0], desc[1], u16::from_le_bytes([desc[8], desc[9]])),
        (18, 1, 0x0627)
    );
    assert_eq!(u.read(USBSTS, 2) as u16 & STS_USBINT, STS_USBINT, "IOC");
    assert!(u.irq_level());
}

#[test]
fn interrupt_in_naks_until_a_key_and_a_stall_stops_the_queue() {
    let kbd = Owned::<UsbKbd>::new();
    let (u, g) = setup_controller(&kbd);
    // The device at address 0; endpoint 1 IN, 8 bytes.
    let td = g.td(0, 1, (0x69, 0, 1), 8, true);
    g.poke32(QH + 4, td);
    u.advance(3_000_000);
    u.run_frames(&g);
    assert_ne!(g.peek32(td + 4) & (1 << 19), 0, "NAK: still active");
    assert_eq!(g.peek32(QH + 4), td);
    kbd.send_keys("x").unwrap();
    u.advance(1_000_000);
    u.run_frames(&g);
    assert_eq!(
        g.peek32(td + 4) & (1 << 23),
        0,
        "the key's report retired it"
    );
    let mut report = [0u8; 8];
    g.dma_read(BUF, &mut report).unwrap();
    assert_eq!(report, [0, 0, 27, 0, 0, 0, 0, 0]);
    // Endpoint 2 does not exist: stalled, the queue stays on the TD.
    let bad = g.td(1, 1, (0x69, 0, 2), 8, true);
    g.poke32(QH + 4, bad);
    u.advance(1_000_000);
    u.run_frames(&g);
    assert_ne!(g.peek32(bad + 4) & (1 << 22), 0, "stalled");
    assert_eq!(g.peek32(QH + 4), bad, "a failed TD stays in the queue");
    assert_ne!(u.read(USBSTS, 2) as u16 & STS_USBERR, 0);
    // No device at address 9: timeout.
    let lost = g.td(2, 1, (0x69, 9, 1), 8, false);
    g.poke32(QH + 4, lost);
    u.advance(1_000_000);
    u.run_frames(&g);
    assert_ne!(g.peek32(lost + 4) & (1 << 18), 0, "timeout");
}

#[test]
fn a_frame_list_that_loops_ends_the_frame() {
    let kbd = Owned::<UsbKbd>::new();
    let (u, g) = setup_controller(&kbd);
    // A queue head whose head link is itself, with an inactive TD.
    g.poke32(QH, QH | 2);
    let td = g.td(0, 1, (0x69, 0, 1), 8, false);
    g.poke32(td + 4, 0);
    g.poke32(QH + 4, td);
    u.advance(5_000_000);
    assert!(
        u.run_frames(&g),
        "returned: the loop was cut at MAX_ELEMENTS"
    );
    // A stopped controller runs nothing.
    u.write(USBCMD, 2, 0);
    assert!(!u.run_frames(&g));
}

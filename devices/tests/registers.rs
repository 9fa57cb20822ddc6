//! Register-level behaviour of every model, through the machine's address
//! space (as a guest sees it), not by calling the models directly: reset
//! values, read-only bits, write-1-to-clear bits, interrupts, FIFOs,
//! timer expiry on the virtual clock, PCI BAR sizing and xHCI reset.

use qom_devices::hw::soc::{TIMER_BASES, UART_BASES};
use qom_devices::irq::IrqRecorder;
use qom_devices::machine::{Machine, VirtMachine};
use qom_devices::pci::{PciDevice, ECAM_HIGH_BASE, PIO_BASE};
use qom_rt::prelude::*;
use std::sync::{Arc, Mutex};

fn machine(name: &str) -> Machine {
    Machine::create_at("virt", &format!("/{name}")).expect("machine builds")
}

fn virt(machine: &Machine) -> &VirtMachine {
    machine.board().expect("a virt board")
}

const UART: u64 = UART_BASES[0];
const DR: u64 = 0x00;
const FR: u64 = 0x18;
const LCR_H: u64 = 0x2c;
const CR: u64 = 0x30;
const IMSC: u64 = 0x38;
const RIS: u64 = 0x3c;
const MIS: u64 = 0x40;
const ICR: u64 = 0x44;

#[test]
fn pl011_resets_to_datasheet_values_and_identifies_itself() {
    let m = machine("r-pl011-reset");
    let s = m.system();
    assert_eq!(
        s.read(UART + FR, 4) & 0xf8,
        0x90,
        "TXFE and RXFE set, nothing else"
    );
    assert_eq!(s.read(UART + CR, 4), 0x300, "TXE and RXE set");
    assert_eq!(s.read(UART + 0x34, 4), 0x12, "IFLS: half-full thresholds");
    let ids: Vec<u64> = (0..8).map(|i| s.read(UART + 0xfe0 + 4 * i, 4)).collect();
    assert_eq!(ids, [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    // Read-only: a write to FR or the IDs changes nothing.
    s.write(UART + FR, 4, 0xffff);
    s.write(UART + 0xfe0, 4, 0);
    assert_eq!(s.read(UART + FR, 4) & 0xf8, 0x90);
    assert_eq!(s.read(UART + 0xfe0, 4), 0x11);
}

#[test]
fn pl011_transmits_to_its_backend() {
    let m = machine("r-pl011-tx");
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    m.set_console(move |b| sink.lock().unwrap().push(b));
    let s = m.system();
    s.write(UART + CR, 4, 0x301);
    for b in b"hi\n" {
        s.write(UART + DR, 4, u64::from(*b));
    }
    assert_eq!(out.lock().unwrap().as_slice(), b"hi\n");
}

#[test]
fn pl011_receive_interrupt_rises_and_clears() {
    let m = machine("r-pl011-irq");
    let uart = &virt(&m).soc.uarts[0];
    let irq = IrqRecorder::default();
    irq.attach(&uart.irq);
    let s = m.system();
    s.write(UART + CR, 4, 0x301);
    s.write(UART + IMSC, 4, 1 << 4); // RXIM
    assert!(!irq.level());
    uart.receive(b'x');
    assert_ne!(s.read(UART + RIS, 4) & (1 << 4), 0, "RXRIS");
    assert_ne!(s.read(UART + MIS, 4) & (1 << 4), 0, "RXMIS");
    assert!(irq.level(), "interrupt line high");
    assert_eq!(
        s.read(UART + FR, 4) & (1 << 4),
        0,
        "RXFE clear: data waiting"
    );
    assert_eq!(s.read(UART + DR, 4) & 0xff, u64::from(b'x'));
    assert!(
        !irq.level(),
        "reading the data clears the receive interrupt"
    );
    // Write-1-to-clear on ICR.
    uart.receive(b'y');
    assert!(irq.level());
    s.write(UART + ICR, 4, 1 << 4);
    assert_eq!(s.read(UART + RIS, 4) & (1 << 4), 0, "ICR cleared RXRIS");
    assert!(!irq.level());
}

#[test]
fn pl011_fifo_fills_at_sixteen_and_overruns() {
    let m = machine("r-pl011-fifo");
    let uart = &virt(&m).soc.uarts[0];
    let s = m.system();
    s.write(UART + CR, 4, 0x301);
    s.write(UART + LCR_H, 4, 1 << 4); // FEN: FIFOs enabled
    for i in 0..16u8 {
        assert_eq!(s.read(UART + FR, 4) & (1 << 6), 0, "not full after {i}");
        uart.receive(i);
    }
    assert_ne!(s.read(UART + FR, 4) & (1 << 6), 0, "RXFF at 16");
    uart.receive(99);
    assert_ne!(
        s.read(UART + RIS, 4) & (1 << 10),
        0,
        "overrun interrupt (OERIS)"
    );
    for i in 0..16u8 {
        assert_eq!(s.read(UART + DR, 4) & 0xff, u64::from(i), "FIFO order");
    }
    assert_ne!(s.read(UART + FR, 4) & (1 << 4), 0, "RXFE once drained");
}

const TIMER: u64 = TIMER_BASES[0];
const LOAD: u64 = 0x00;
const VALUE: u64 = 0x04;
const CONTROL: u64 = 0x08;
const INTCLR: u64 = 0x0c;
const T_RIS: u64 = 0x10;
const T_MIS: u64 = 0x14;
const ENABLE: u64 = 1 << 7;
const PERIODIC: u64 = 1 << 6;
const INTEN: u64 = 1 << 5;
const SIZE32: u64 = 1 << 1;
const ONESHOT: u64 = 1 << 0;

#[test]
fn sp804_resets_and_expires_on_the_virtual_clock() {
    let m = machine("r-sp804");
    let timer = &virt(&m).soc.timers[0];
    let irq = IrqRecorder::default();
    irq.attach(&timer.irq);
    let s = m.system();
    assert_eq!(
        s.read(TIMER + CONTROL, 4),
        0x20,
        "reset: interrupt enabled, stopped, 16-bit, wrapping"
    );
    assert_eq!(s.read(TIMER + VALUE, 4), 0xffff_ffff);
    // 1000 ticks at 1 MHz: periodic, 32-bit.
    s.write(TIMER + LOAD, 4, 1000);
    s.write(TIMER + CONTROL, 4, ENABLE | PERIODIC | INTEN | SIZE32);
    m.clock_step(999_000).unwrap();
    assert_eq!(s.read(TIMER + T_RIS, 4), 0, "not yet");
    m.clock_step(1_000).unwrap();
    assert_eq!(s.read(TIMER + T_RIS, 4), 1, "expired after 1000 ticks");
    assert_eq!(s.read(TIMER + T_MIS, 4), 1);
    assert!(irq.level());
    s.write(TIMER + INTCLR, 4, 1);
    assert_eq!(s.read(TIMER + T_RIS, 4), 0, "IntClr clears");
    assert!(!irq.level());
    // Periodic: reloads and fires again.
    m.clock_step(1_000_000).unwrap();
    assert_eq!(s.read(TIMER + T_RIS, 4), 1, "fired again after the reload");
}

#[test]
fn sp804_one_shot_stops_after_expiry() {
    let m = machine("r-sp804-oneshot");
    let s = m.system();
    s.write(TIMER + LOAD, 4, 10);
    s.write(TIMER + CONTROL, 4, ENABLE | INTEN | SIZE32 | ONESHOT);
    m.clock_step(20_000).unwrap();
    assert_eq!(s.read(TIMER + T_RIS, 4), 1);
    s.write(TIMER + INTCLR, 4, 1);
    m.clock_step(1_000_000).unwrap();
    assert_eq!(s.read(TIMER + T_RIS, 4), 0, "a one-shot timer fires once");
}

/// ECAM address of a configuration register of `slot`.
fn ecam(slot: u8, reg: u64) -> u64 {
    ECAM_HIGH_BASE + (u64::from(slot) << 15) + reg
}

/// `gpex-root` at 00.0 answers as QEMU 7.2's: 1b36:0008, class 0x0600,
/// no BAR, no interrupt pin, its command register at 0 and writable in
/// QEMU's bits; the first plugged device goes to slot 1; the type cannot
/// be plugged by the user.
#[test]
fn host_bridge_function_at_00_0() {
    let m = machine("r-gpex-root");
    let s = m.system();
    assert_eq!(s.read(ecam(0, 0x00), 4), 0x0008_1b36, "1b36:0008");
    assert_eq!(s.read(ecam(0, 0x04), 4), 0, "command and status");
    assert_eq!(s.read(ecam(0, 0x08), 4), 0x0600_0000, "class 0x0600, rev 0");
    assert_eq!(s.read(ecam(0, 0x0c), 4), 0, "header type 0");
    assert_eq!(s.read(ecam(0, 0x2c), 4), 0x1100_1af4, "subsystem");
    assert_eq!(s.read(ecam(0, 0x3d), 1), 0, "no interrupt pin");
    s.write(ecam(0, 0x10), 4, 0xffff_ffff);
    assert_eq!(s.read(ecam(0, 0x10), 4), 0, "no BAR");
    s.write(ecam(0, 0x04), 2, 0xffff);
    assert_eq!(
        s.read(ecam(0, 0x04), 2),
        0x0507,
        "QEMU's writable command bits"
    );
    m.device_add("xhci-pci,id=usb0").unwrap();
    assert_eq!(s.read(ecam(1, 0x00), 4), 0x000d_1b36, "the xHCI at 01.0");
    let err = m.device_add("gpex-root").unwrap_err().to_string();
    assert!(
        err.contains("gpex-root") && err.contains("host bridge"),
        "{err}"
    );
}

/// QEMU 7.2's `virt` puts its ECAM at 0x4010000000 (256 buses) by
/// default and at 0x3f000000 (16 buses) with `highmem=off`; only the
/// window in use answers, and only `highmem` has the 64-bit MMIO window
/// (a master abort: all ones).
#[test]
fn ecam_window_follows_highmem() {
    use qom_devices::machine::MachineOptions;
    use qom_devices::pci::{ECAM_BASE, MMIO_HIGH_BASE};
    let high = machine("r-ecam-high");
    assert_eq!(high.system().read(ECAM_HIGH_BASE, 4), 0x0008_1b36);
    assert_eq!(
        high.system().read(ECAM_HIGH_BASE + (255 << 20), 4),
        0xffff_ffff,
        "bus 255"
    );
    assert_eq!(
        high.system().read(ECAM_BASE, 4),
        0,
        "nothing at the low window"
    );
    assert_eq!(
        high.system().read(MMIO_HIGH_BASE, 4),
        0xffff_ffff,
        "64-bit window"
    );
    assert_eq!(virt(&high).ecam_base(), ECAM_HIGH_BASE);
    let options = MachineOptions {
        properties: vec![("highmem".into(), "off".into())],
        ..Default::default()
    };
    let low = Machine::create_with("virt", "/r-ecam-low", &options).unwrap();
    assert_eq!(low.system().read(ECAM_BASE, 4), 0x0008_1b36);
    assert_eq!(
        low.system().read(ECAM_HIGH_BASE, 4),
        0,
        "nothing at the high window"
    );
    assert_eq!(
        low.system().read(ECAM_BASE + (1 << 24), 4),
        0,
        "16 buses only"
    );
    assert_eq!(low.system().read(MMIO_HIGH_BASE, 4), 0, "no 64-bit window");
    assert_eq!(virt(&low).ecam_base(), ECAM_BASE);
    let bad = MachineOptions {
        properties: vec![("highmem".into(), "maybe".into())],
        ..Default::default()
    };
    let err = Machine::create_with("virt", "/r-ecam-bad", &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("highmem") && err.contains("maybe"), "{err}");
}

/// `qemu-xhci`, QEMU's name, is an `xhci-pci` with the same
/// configuration space (BAR addresses aside) and registers.
#[test]
fn qemu_xhci_is_the_same_controller() {
    let m = machine("r-qemu-xhci");
    m.device_add("xhci-pci,id=a,addr=2").unwrap();
    m.device_add("qemu-xhci,id=b,addr=3").unwrap();
    let s = m.system();
    for reg in (0..0x100).step_by(4).filter(|r| !(0x10..0x18).contains(r)) {
        assert_eq!(s.read(ecam(2, reg), 4), s.read(ecam(3, reg), 4), "{reg:#x}");
    }
    let b = qom_rt::resolve_path("/r-qemu-xhci/peripheral/b").unwrap();
    assert!(b.downcast::<qom_devices::hw::usb::XhciPci>().is_some());
    assert_eq!(b.type_name(), "qemu-xhci");
    m.device_del("b").unwrap();
    assert_eq!(s.read(ecam(3, 0), 4), 0xffff_ffff, "unplugged");
}

#[test]
fn xhci_pci_identity_and_bar_sizing() {
    let m = machine("r-xhci-pci");
    m.device_add("xhci-pci,id=usb0,addr=4").unwrap();
    let s = m.system();
    assert_eq!(
        s.read(ecam(4, 0), 4),
        0x000d_1b36,
        "vendor 1b36, device 000d"
    );
    assert_eq!(
        s.read(ecam(4, 8), 4) >> 8,
        0x0c_0330,
        "class code: USB xHCI"
    );
    assert_eq!(s.read(ecam(5, 0), 4), 0xffff_ffff, "empty slot");
    // Capabilities on a PCI Express bus: MSI-X at 0x90, then the Express
    // capability at 0xa0 (a root-complex integrated endpoint, version 2),
    // as QEMU 7.2's qemu-xhci on virt; `pc`'s xHCI has MSI-X only.
    assert_eq!(s.read(ecam(4, 0x34), 1), 0x90, "capability list start");
    assert_eq!(s.read(ecam(4, 0x90), 4), 0x000f_a011, "MSI-X, next 0xa0");
    assert_eq!(s.read(ecam(4, 0xa0), 4), 0x0092_0010, "Express, last");
    // BAR sizing protocol: all ones in, size mask out, then restore.
    let bar = s.read(ecam(4, 0x10), 4);
    s.write(ecam(4, 0x10), 4, 0xffff_ffff);
    let mask = s.read(ecam(4, 0x10), 4) & !0xf;
    assert_eq!(!mask as u32 as u64 + 1, 0x4000, "BAR 0 is 16 KiB");
    s.write(ecam(4, 0x10), 4, bar);
    assert_eq!(
        s.read(bar & !0xf, 4) & 0xff,
        0x40,
        "CAPLENGTH at the restored BAR"
    );
    // Moving the BAR moves the registers.
    s.write(ecam(4, 0x10), 4, 0x2000_0000);
    assert_eq!(s.read(0x2000_0000, 4) & 0xff, 0x40);
    assert_eq!(
        s.read(bar & !0xf, 4),
        0xffff_ffff,
        "nothing at the old address"
    );
}

#[test]
fn xhci_capability_and_operational_registers() {
    let m = machine("r-xhci-regs");
    m.device_add("xhci-pci,id=usb0,num-ports=6,p2=0").unwrap();
    let (_, dev) = m
        .pci_host()
        .expect("virt has PCI")
        .devices()
        .into_iter()
        .find(|(slot, _)| *slot != 0) // 00.0 is the host bridge's function
        .unwrap();
    let bar = dev.bar_address(0).unwrap();
    let s = m.system();
    let cap = s.read(bar, 4);
    assert_eq!(cap & 0xff, 0x40, "CAPLENGTH");
    assert_eq!(cap >> 16, 0x0100, "HCIVERSION 1.0");
    assert_eq!(
        s.read(bar + 0x04, 4) >> 24,
        6,
        "HCSPARAMS1.MaxPorts from num-ports"
    );
    let op = bar + 0x40;
    let usbcmd = op;
    let usbsts = op + 0x04;
    assert_eq!(s.read(op + 0x08, 4), 1, "PAGESIZE: 4 KiB");
    assert_eq!(s.read(usbsts, 4) & 1, 1, "HCHalted while stopped");
    s.write(usbcmd, 4, 1); // Run/Stop
    assert_eq!(s.read(usbsts, 4) & 1, 0, "running");
    s.write(usbcmd, 4, 0);
    assert_eq!(s.read(usbsts, 4) & 1, 1, "halted again");
    // HCRST self-clears and resets the operational registers.
    s.write(op + 0x38, 4, 0x5); // CONFIG
    s.write(usbcmd, 4, 1 << 1);
    assert_eq!(s.read(usbcmd, 4) & (1 << 1), 0, "HCRST self-clears");
    assert_eq!(s.read(op + 0x38, 4), 0, "CONFIG back to reset value");
    // One PORTSC per port; beyond them, nothing.
    let portsc = |n: u64| op + 0x400 + 0x10 * n;
    assert_ne!(s.read(portsc(0), 4) & (1 << 9), 0, "port power on");
    assert_ne!(s.read(portsc(5), 4) & (1 << 9), 0);
}

#[test]
fn uhci_of_the_south_bridge_through_io_space() {
    let m = machine("r-uhci");
    m.device_add("piix3,id=sb").unwrap();
    let (slot, dev) = m
        .pci_host()
        .expect("virt has PCI")
        .devices()
        .into_iter()
        .find(|(slot, _)| *slot != 0) // 00.0 is the host bridge's function
        .unwrap();
    assert_eq!(m.system().read(ecam(slot, 0), 4), 0x7020_8086, "8086:7020");
    let io = PIO_BASE + dev.bar_address(4).expect("BAR 4 in I/O space");
    let s = m.system();
    assert_eq!(s.read(io, 2), 0, "USBCMD");
    assert_ne!(s.read(io + 0x02, 2) & (1 << 5), 0, "USBSTS.HCHalted");
    assert_eq!(s.read(io + 0x0c, 1), 0x40, "SOFMOD");
    assert_ne!(
        s.read(io + 0x10, 2) & (1 << 7),
        0,
        "PORTSC reserved bit reads 1"
    );
    // FRBASEADD: low 12 bits read as zero.
    s.write(io + 0x08, 4, 0x1234_5fff);
    assert_eq!(s.read(io + 0x08, 4), 0x1234_5000);
    // The companion is an owned child with its own path.
    let sb = qom_rt::resolve_path("/r-uhci/peripheral/sb/uhci").unwrap();
    assert_eq!(sb.type_name(), "piix3-usb-uhci");
}

#[test]
fn pci_interrupt_sets_the_status_bit_and_drives_inta_unless_disabled() {
    let m = machine("r-pci-intx");
    let dev = m.device_add("xhci-pci,id=usb0").unwrap();
    let pci = dev.downcast::<PciDevice>().unwrap();
    let line = IrqRecorder::default();
    line.attach(&pci.intx);
    let s = m.system();
    let config = ECAM_HIGH_BASE + (1 << 15);
    let (command, status) = (config + 0x04, config + 0x06);
    assert_eq!(s.read(status, 2) & 0x08, 0, "nothing pending");

    pci.set_irq(true);
    assert_eq!(s.read(status, 2) & 0x08, 0x08, "Interrupt Status");
    assert!(line.level());
    // INTx Disable masks the pin, not the status bit.
    let enabled = s.read(command, 2);
    s.write(command, 2, enabled | 1 << 10);
    assert!(!line.level());
    assert_eq!(s.read(status, 2) & 0x08, 0x08);
    s.write(status, 2, 0);
    assert_eq!(s.read(status, 2) & 0x08, 0x08, "read-only for the guest");
    s.write(command, 2, enabled);
    assert!(line.level());

    pci.set_irq(false);
    assert_eq!(s.read(status, 2) & 0x08, 0);
    assert!(!line.level());
    assert_eq!(line.edges(), 4);
}

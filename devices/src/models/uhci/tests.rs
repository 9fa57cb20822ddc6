use super::*;

fn rd(u: &UhciRegs, offset: u64) -> u16 {
    u.read(offset, 2) as u16
}

fn wr(u: &UhciRegs, offset: u64, value: u16) {
    u.write(offset, 2, u64::from(value));
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<UhciRegs>();
}

#[test]
fn pci_identity() {
    assert_eq!(
        (PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_CLASS_CODE),
        (0x8086, 0x7020, 0x0c0300)
    );
}

#[test]
fn reset_values() {
    let u = UhciRegs::new();
    assert_eq!(rd(&u, USBCMD), 0);
    assert_eq!(rd(&u, USBSTS), STS_HCHALTED);
    assert_eq!(rd(&u, USBINTR), 0);
    assert_eq!(rd(&u, FRNUM), 0);
    assert_eq!(u.read(FRBASEADD, 4), 0);
    assert_eq!(u.read(SOFMOD, 1), 0x40);
    assert_eq!(rd(&u, PORTSC1), PORT_RSVD1);
    assert_eq!(rd(&u, PORTSC2), PORT_RSVD1);
    assert_eq!(rd(&u, 0x0e), 0xff7f, "no register");
    assert_eq!(rd(&u, 0x14), 0xff7f, "no third port");
    assert!(!u.irq_level());
}

fn dirty() -> UhciRegs {
    let u = UhciRegs::new();
    wr(&u, USBINTR, INTR_IOC);
    u.write(FRBASEADD, 4, 0x1234_5000);
    u.write(SOFMOD, 1, 0x20);
    wr(&u, FRNUM, 0x123);
    wr(&u, USBCMD, CMD_RS);
    u
}

#[test]
fn hcreset_resets_and_self_clears() {
    let u = dirty();
    wr(&u, USBCMD, CMD_RS | CMD_HCRESET);
    assert_eq!(rd(&u, USBCMD), 0, "HCRESET reads back as 0");
    assert_eq!(rd(&u, USBSTS), STS_HCHALTED);
    assert_eq!(rd(&u, USBINTR), 0);
    assert_eq!(u.read(FRBASEADD, 4), 0);
    assert_eq!(u.read(SOFMOD, 1), 0x40);
    assert_eq!(rd(&u, FRNUM), 0);
}

#[test]
fn greset_resets_too() {
    let u = dirty();
    wr(&u, USBCMD, CMD_GRESET);
    assert_eq!(rd(&u, USBCMD), 0);
    assert_eq!(rd(&u, USBINTR), 0);
    let u = dirty();
    u.reset();
    assert_eq!(rd(&u, USBSTS), STS_HCHALTED);
}

#[test]
fn run_stop_drives_hchalted() {
    let u = UhciRegs::new();
    wr(&u, USBCMD, CMD_RS);
    assert_eq!(rd(&u, USBSTS) & STS_HCHALTED, 0);
    wr(&u, USBCMD, 0);
    assert_eq!(rd(&u, USBSTS) & STS_HCHALTED, STS_HCHALTED);
}

#[test]
fn status_bits_are_write_one_to_clear() {
    let u = UhciRegs::new();
    wr(&u, USBSTS, 0); // writing 0 clears nothing
    assert_eq!(rd(&u, USBSTS), STS_HCHALTED);
    wr(&u, USBSTS, STS_HCHALTED);
    assert_eq!(rd(&u, USBSTS), 0, "HCHalted is R/WC too");
}

#[test]
fn resume_detect_raises_the_resume_interrupt() {
    let u = UhciRegs::new();
    wr(&u, USBINTR, INTR_RESUME);
    wr(&u, PORTSC1, PORT_RD);
    wr(&u, USBCMD, CMD_EGSM);
    assert_eq!(rd(&u, USBCMD), CMD_EGSM | CMD_FGR);
    assert_eq!(rd(&u, USBSTS) & STS_RD, STS_RD);
    assert!(u.irq_level());
    wr(&u, USBSTS, STS_RD);
    assert!(!u.irq_level());
}

#[test]
fn frame_list_base_is_page_aligned() {
    let u = UhciRegs::new();
    u.write(FRBASEADD, 4, 0x1234_5fff);
    assert_eq!(u.read(FRBASEADD, 4), 0x1234_5000);
    assert_eq!(rd(&u, FRBASEADD + 2), 0x1234);
}

#[test]
fn frnum_is_writable_only_while_halted() {
    let u = UhciRegs::new();
    wr(&u, FRNUM, 0xffff);
    assert_eq!(rd(&u, FRNUM), 0x7ff);
    wr(&u, USBCMD, CMD_RS);
    wr(&u, FRNUM, 5);
    assert_eq!(rd(&u, FRNUM), 0x7ff);
    u.advance(2_500_000);
    assert_eq!(rd(&u, FRNUM), 1, "two frames, wrapping at 11 bits");
    u.advance(500_000);
    assert_eq!(rd(&u, FRNUM), 2);
    wr(&u, USBCMD, 0);
    u.advance(10_000_000);
    assert_eq!(rd(&u, FRNUM), 2, "halted: no frames");
}

#[test]
fn frames_follow_a_machine_clock_that_follows_host_time() {
    let u = UhciRegs::new();
    let clock = VirtualClock::default();
    u.set_clock(clock.clone());
    wr(&u, USBCMD, CMD_RS);
    // A stopped clock (the guest is paused): no frames.
    std::thread::sleep(std::time::Duration::from_millis(3));
    assert_eq!(rd(&u, FRNUM), 0);
    // Running, the frame number moves on its own, as SeaBIOS's
    // `uhci_waittick` expects (one frame a millisecond).
    // Taken before the clock starts: the frames counted are then never
    // more than the time measured, however the threads are scheduled.
    let start = std::time::Instant::now();
    clock.start();
    while rd(&u, FRNUM) < 2 {
        assert!(
            start.elapsed().as_secs() < 5,
            "frames counted from host time"
        );
        std::thread::yield_now();
    }
    assert!(start.elapsed() >= std::time::Duration::from_millis(2));
    clock.stop();
    let frozen = rd(&u, FRNUM);
    std::thread::sleep(std::time::Duration::from_millis(3));
    assert_eq!(rd(&u, FRNUM), frozen, "a stopped clock freezes the count");
}

#[test]
fn sofmod_is_a_byte() {
    let u = UhciRegs::new();
    u.write(SOFMOD, 1, 0x7f);
    assert_eq!(u.read(SOFMOD, 1), 0x7f);
    assert_eq!(rd(&u, SOFMOD), 0x7f);
    u.write(SOFMOD + 1, 1, 0xff);
    assert_eq!(u.read(SOFMOD, 1), 0x7f, "the high byte is not SOFMOD");
}

#[test]
fn port_reserved_bit_reads_one_and_read_only_bits_hold() {
    let u = UhciRegs::new();
    wr(&u, PORTSC1, 0);
    assert_eq!(rd(&u, PORTSC1), PORT_RSVD1);
    wr(&u, PORTSC1, PORT_CCS | PORT_LSDA | PORT_EN);
    assert_eq!(
        rd(&u, PORTSC1),
        PORT_RSVD1,
        "no device: CCS read-only, EN refused"
    );
    wr(&u, PORTSC1, PORT_SUSPEND | PORT_RESET);
    assert_eq!(rd(&u, PORTSC1), PORT_RSVD1 | PORT_SUSPEND | PORT_RESET);
}

#[test]
fn port_change_bits_are_write_one_to_clear() {
    let u = UhciRegs::new();
    assert!(u.attach(1, UsbSpeed::Low));
    assert_eq!(
        rd(&u, PORTSC2),
        PORT_RSVD1 | PORT_CCS | PORT_CSC | PORT_LSDA
    );
    wr(&u, PORTSC2, PORT_EN); // CSC written 0: kept
    assert_eq!(
        rd(&u, PORTSC2),
        PORT_RSVD1 | PORT_CCS | PORT_CSC | PORT_LSDA | PORT_EN
    );
    wr(&u, PORTSC2, PORT_EN | PORT_CSC);
    assert_eq!(rd(&u, PORTSC2), PORT_RSVD1 | PORT_CCS | PORT_LSDA | PORT_EN);
    u.detach(1);
    assert_eq!(
        rd(&u, PORTSC2),
        PORT_RSVD1 | PORT_CSC | PORT_ENC | PORT_LSDA
    );
    wr(&u, PORTSC2, PORT_CSC | PORT_ENC);
    assert_eq!(rd(&u, PORTSC2) & (PORT_CSC | PORT_ENC), 0);
    assert!(
        !u.attach(0, UsbSpeed::High),
        "UHCI drives low and full speed only"
    );
    assert!(!u.attach(2, UsbSpeed::Full));
}

#[test]
fn reset_reconnects_attached_devices() {
    let u = UhciRegs::new();
    u.attach(0, UsbSpeed::Full);
    wr(&u, PORTSC1, PORT_EN | PORT_CSC);
    wr(&u, USBCMD, CMD_HCRESET);
    assert_eq!(rd(&u, PORTSC1), PORT_RSVD1 | PORT_CCS | PORT_CSC);
}

#[test]
fn byte_writes_keep_the_other_half() {
    let u = UhciRegs::new();
    u.attach(0, UsbSpeed::Full);
    wr(&u, PORTSC1, PORT_EN | PORT_SUSPEND);
    u.write(PORTSC1, 1, u64::from(PORT_CSC)); // low byte: clear CSC
    assert_eq!(
        rd(&u, PORTSC1),
        PORT_RSVD1 | PORT_CCS | PORT_SUSPEND,
        "EN dropped, SUSPEND kept"
    );
    u.write(PORTSC1 + 1, 1, 0); // high byte: drop SUSPEND
    assert_eq!(rd(&u, PORTSC1), PORT_RSVD1 | PORT_CCS);
    assert_eq!(u.read(PORTSC1 + 1, 1), 0);
    assert_eq!(
        u.read(0, 4),
        u64::from(STS_HCHALTED) << 16,
        "USBCMD and USBSTS at once"
    );
}

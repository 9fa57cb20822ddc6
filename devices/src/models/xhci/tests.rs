use super::*;

fn rd(x: &XhciRegs, offset: u64) -> u32 {
    x.read(offset, 4) as u32
}

fn wr(x: &XhciRegs, offset: u64, value: u32) {
    x.write(offset, 4, u64::from(value));
}

fn op(reg: u64) -> u64 {
    OPER_BASE + reg
}

fn portsc(n: u64) -> u64 {
    PORT_BASE + PORT_STRIDE * n
}

fn intr0(reg: u64) -> u64 {
    RUNTIME_BASE + 0x20 + reg
}

/// `PORTSC` of an empty powered port after reset, as QEMU leaves it.
const EMPTY_PORTSC: u32 = PORTSC_PP | (PLS_RX_DETECT << PORTSC_PLS_SHIFT) | PORTSC_CSC;

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<XhciRegs>();
}

#[test]
fn pci_identity() {
    assert_eq!(
        (PCI_VENDOR_ID, PCI_DEVICE_ID, PCI_CLASS_CODE, PCI_REVISION),
        (0x1b36, 0x000d, 0x0c0330, 1)
    );
}

#[test]
fn capability_registers() {
    let x = XhciRegs::new(4);
    assert_eq!(rd(&x, CAPLENGTH_HCIVERSION), 0x0100_0040);
    assert_eq!(x.read(0, 1), 0x40, "CAPLENGTH");
    assert_eq!(x.read(2, 2), 0x0100, "HCIVERSION");
    assert_eq!(rd(&x, HCSPARAMS1), (4 << 24) | (16 << 8) | 64);
    assert_eq!(rd(&x, HCSPARAMS2), 0xf);
    assert_eq!(rd(&x, HCSPARAMS3), 0);
    assert_eq!(rd(&x, HCCPARAMS1), 0x0008_7001);
    assert_eq!(rd(&x, DBOFF), 0x2000);
    assert_eq!(rd(&x, RTSOFF), 0x1000);
    assert_eq!(rd(&x, 0x38), (4 << 8) | 1, "USB 3 ports 1-4");
    wr(&x, HCSPARAMS1, 0);
    assert_eq!(rd(&x, HCSPARAMS1) >> 24, 4, "read-only");
    assert_eq!(XhciRegs::new(99).num_ports(), MAX_PORTS);
    assert_eq!(XhciRegs::new(0).num_ports(), 1);
}

#[test]
fn operational_reset_values() {
    let x = XhciRegs::new(2);
    assert_eq!(rd(&x, op(USBCMD)), 0);
    assert_eq!(rd(&x, op(USBSTS)), USBSTS_HCH);
    assert_eq!(rd(&x, op(PAGESIZE)), 1);
    for reg in [DNCTRL, CRCR, CRCR + 4, DCBAAP, DCBAAP + 4, CONFIG] {
        assert_eq!(rd(&x, op(reg)), 0, "oper register {reg:#x}");
    }
    assert_eq!(rd(&x, portsc(0)), EMPTY_PORTSC);
    assert_eq!(rd(&x, portsc(1)), EMPTY_PORTSC);
    assert_eq!(rd(&x, portsc(2)), 0, "no third port");
    assert_eq!(rd(&x, RUNTIME_BASE), 0, "MFINDEX");
    assert!(!x.irq_level());
}

#[test]
fn run_stop_drives_hchalted() {
    let x = XhciRegs::new(1);
    wr(&x, op(USBCMD), USBCMD_RS | USBCMD_INTE);
    assert_eq!(rd(&x, op(USBSTS)) & USBSTS_HCH, 0);
    assert_eq!(rd(&x, op(USBCMD)), USBCMD_RS | USBCMD_INTE);
    wr(&x, op(USBSTS), USBSTS_HCH);
    assert_eq!(rd(&x, op(USBSTS)) & USBSTS_HCH, 0, "HCH is read-only");
    wr(&x, op(USBCMD), 0);
    assert_eq!(rd(&x, op(USBSTS)) & USBSTS_HCH, USBSTS_HCH);
}

#[test]
fn hcrst_resets_operational_and_runtime_registers() {
    let x = XhciRegs::new(2);
    wr(&x, op(DNCTRL), 0x1_ffff);
    wr(&x, op(DCBAAP), 0x1234_5678);
    wr(&x, op(CONFIG), 0x1ff);
    wr(&x, intr0(ERSTSZ), 0x1_0001);
    wr(&x, intr0(IMAN), IMAN_IE);
    wr(&x, portsc(0), PORTSC_CSC); // clear CSC
    assert_eq!(rd(&x, op(DNCTRL)), 0xffff);
    assert_eq!(rd(&x, op(DCBAAP)), 0x1234_5640, "64-byte aligned");
    assert_eq!(rd(&x, op(CONFIG)), 0xff);
    assert_eq!(rd(&x, intr0(ERSTSZ)), 1);
    wr(&x, op(USBCMD), USBCMD_RS);
    wr(&x, op(USBCMD), USBCMD_HCRST);
    assert_eq!(rd(&x, op(USBCMD)), 0, "HCRST self-clears");
    assert_eq!(rd(&x, op(USBSTS)), USBSTS_HCH);
    for reg in [DNCTRL, DCBAAP, CONFIG] {
        assert_eq!(rd(&x, op(reg)), 0);
    }
    assert_eq!(rd(&x, intr0(ERSTSZ)), 0);
    assert_eq!(rd(&x, intr0(IMAN)), 0);
    assert_eq!(rd(&x, portsc(0)), EMPTY_PORTSC);
}

#[test]
fn save_restore_and_w1c_status() {
    let x = XhciRegs::new(1);
    wr(&x, op(USBCMD), USBCMD_CRS);
    assert_eq!(rd(&x, op(USBSTS)), USBSTS_HCH | USBSTS_SRE);
    assert_eq!(rd(&x, op(USBCMD)), 0, "CRS is not stored");
    wr(&x, op(USBSTS), 0);
    assert_eq!(rd(&x, op(USBSTS)) & USBSTS_SRE, USBSTS_SRE);
    wr(&x, op(USBSTS), USBSTS_SRE);
    assert_eq!(rd(&x, op(USBSTS)), USBSTS_HCH);
}

#[test]
fn portsc_change_bits_are_w1c_and_rw_bits_stick() {
    let x = XhciRegs::new(1);
    wr(&x, portsc(0), PORTSC_PP); // CSC written 0: kept
    assert_eq!(rd(&x, portsc(0)), EMPTY_PORTSC);
    wr(&x, portsc(0), PORTSC_PP | PORTSC_CSC | PORTSC_WCE);
    assert_eq!(rd(&x, portsc(0)), (EMPTY_PORTSC & !PORTSC_CSC) | PORTSC_WCE);
    wr(&x, portsc(0), PORTSC_CCS | PORTSC_PED); // read-only bits; PP off
    assert_eq!(rd(&x, portsc(0)), PLS_RX_DETECT << PORTSC_PLS_SHIFT);
    wr(&x, portsc(0), PORTSC_PR);
    assert_eq!(rd(&x, portsc(0)) & PORTSC_PR, 0, "no device: reset ignored");
}

#[test]
fn attached_devices_connect_reset_and_link() {
    let x = XhciRegs::new(2);
    assert!(x.attach(1, UsbSpeed::High));
    assert!(!x.attach(2, UsbSpeed::High));
    let usb2 = PORTSC_PP
        | PORTSC_CCS
        | (3 << PORTSC_SPEED_SHIFT)
        | (PLS_POLLING << PORTSC_PLS_SHIFT)
        | PORTSC_CSC;
    assert_eq!(rd(&x, portsc(1)), usb2);
    wr(&x, portsc(1), PORTSC_PP | PORTSC_PR);
    let enabled = (usb2 & !(0xf << PORTSC_PLS_SHIFT)) | PORTSC_PED | PORTSC_PRC;
    assert_eq!(rd(&x, portsc(1)), enabled);
    wr(&x, portsc(1), PORTSC_PP | PORTSC_PRC | PORTSC_CSC);
    assert_eq!(rd(&x, portsc(1)) & (PORTSC_PRC | PORTSC_CSC), 0);
    // Suspend (U3) then resume (U0) through the link state strobe.
    wr(
        &x,
        portsc(1),
        PORTSC_PP | PORTSC_LWS | (PLS_U3 << PORTSC_PLS_SHIFT),
    );
    assert_eq!((rd(&x, portsc(1)) >> PORTSC_PLS_SHIFT) & 0xf, PLS_U3);
    assert_eq!(rd(&x, portsc(1)) & PORTSC_PLC, 0);
    wr(&x, portsc(1), PORTSC_PP | (PLS_U0 << PORTSC_PLS_SHIFT)); // no strobe
    assert_eq!((rd(&x, portsc(1)) >> PORTSC_PLS_SHIFT) & 0xf, PLS_U3);
    wr(
        &x,
        portsc(1),
        PORTSC_PP | PORTSC_LWS | (PLS_U0 << PORTSC_PLS_SHIFT),
    );
    assert_eq!(rd(&x, portsc(1)) & PORTSC_PLC, PORTSC_PLC);
    x.detach(1);
    assert_eq!(rd(&x, portsc(1)), EMPTY_PORTSC);
    assert!(x.attach(0, UsbSpeed::Super));
    let usb3 = rd(&x, portsc(0));
    assert_eq!(usb3 & (PORTSC_CCS | PORTSC_PED), PORTSC_CCS | PORTSC_PED);
    assert_eq!((usb3 >> PORTSC_PLS_SHIFT) & 0xf, PLS_U0);
    wr(&x, portsc(0), PORTSC_PP | PORTSC_WPR);
    assert_eq!(
        rd(&x, portsc(0)) & (PORTSC_WRC | PORTSC_PRC),
        PORTSC_WRC | PORTSC_PRC
    );
}

#[test]
fn interrupter_registers() {
    let x = XhciRegs::new(1);
    wr(&x, intr0(ERSTBA), 0x1234_5678);
    assert_eq!(rd(&x, intr0(ERSTBA)), 0x1234_5640);
    wr(&x, intr0(ERDP), 0xabcd_ef1f);
    assert_eq!(rd(&x, intr0(ERDP)), 0xabcd_ef17, "EHB is write-1-to-clear");
    wr(&x, intr0(IMOD), 0x0001_0fa0);
    assert_eq!(rd(&x, intr0(IMOD)), 0x0001_0fa0);
    let last = RUNTIME_BASE + 0x20 * MAX_INTRS as u64;
    wr(&x, last + IMOD, 7);
    assert_eq!(rd(&x, last + IMOD), 7, "interrupter 15");
    wr(&x, intr0(ERSTSZ), 2);
    wr(&x, intr0(ERSTBA + 4), 1);
    assert_eq!(
        rd(&x, op(USBSTS)) & USBSTS_HCE,
        USBSTS_HCE,
        "more than one segment"
    );
    wr(&x, intr0(IMAN), IMAN_IE);
    wr(&x, op(USBCMD), USBCMD_INTE);
    assert_eq!(rd(&x, intr0(IMAN)), IMAN_IE);
    assert!(!x.irq_level(), "nothing pending");
}

#[test]
fn mfindex_counts_microframes_from_run() {
    let x = XhciRegs::new(1);
    x.advance(1_000_000);
    wr(&x, op(USBCMD), USBCMD_RS);
    x.advance(3 * 125_000 + 1);
    assert_eq!(rd(&x, RUNTIME_BASE), 3);
    wr(&x, RUNTIME_BASE, 0);
    assert_eq!(rd(&x, RUNTIME_BASE), 3, "read-only");
    x.advance(0x4000 * 125_000);
    assert_eq!(rd(&x, RUNTIME_BASE), 3, "14 bits, wrapping");
}

#[test]
fn doorbells_read_zero_and_command_doorbell_needs_run() {
    let x = XhciRegs::new(1);
    wr(&x, DOORBELL_BASE, 0);
    assert_eq!(rd(&x, op(CRCR)), 0);
    wr(&x, op(USBCMD), USBCMD_RS);
    wr(&x, DOORBELL_BASE, 0);
    wr(&x, DOORBELL_BASE + 4, 1); // slot 1, endpoint 1
    assert_eq!(rd(&x, DOORBELL_BASE + 4), 0);
    // The doorbell set CRR (hidden from reads, as in QEMU): a command
    // abort (CA) now stops the ring, and CA reads back clear.
    wr(&x, op(CRCR), 0x1000 | (1 << 2));
    wr(&x, op(CRCR + 4), 0);
    assert_eq!(rd(&x, op(CRCR)), 0x1000);
}

#[test]
fn access_sizes() {
    let x = XhciRegs::new(1);
    wr(&x, op(DCBAAP), 0x1000);
    x.write(op(DCBAAP), 8, 0x0000_0002_0000_2040);
    assert_eq!(x.read(op(DCBAAP), 8), 0x0000_0002_0000_2040);
    x.write(op(CONFIG), 1, 5);
    assert_eq!(rd(&x, op(CONFIG)), 0, "narrow writes are ignored");
    assert_eq!(rd(&x, 0x3000), 0, "unassigned");
}

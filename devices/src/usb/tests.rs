//! The USB layer driven as a host controller drives it: standard
//! requests answered from descriptors, the keyboard's reports and
//! wake-ups, and bulk-only transport against a real image file.

use super::hid::UsbKbd;
use super::storage::UsbStorage;
use super::*;
use crate::device::Device;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn setup(request_type: u8, request: u8, value: u16, index: u16, length: u16) -> Setup {
    Setup {
        request_type,
        request,
        value,
        index,
        length,
    }
}

fn attached<T: UsbDeviceImpl>(dev: &Owned<T>, speed: UsbSpeed) -> Arc<AtomicUsize> {
    dev.upcast::<Device>().realize().expect("realizes");
    let wakeups = Arc::new(AtomicUsize::new(0));
    let counter = wakeups.clone();
    let usb = dev.upcast::<UsbDevice>();
    usb.set_attached(
        Some(speed),
        Some(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })),
    );
    wakeups
}

#[test]
fn keyboard_enumerates_like_qemus() {
    let kbd = Owned::<UsbKbd>::new();
    let usb = kbd.upcast::<UsbDevice>();
    assert_eq!(
        usb.best_speed(&[UsbSpeed::Low, UsbSpeed::Full, UsbSpeed::High]),
        Some(UsbSpeed::High)
    );
    assert_eq!(
        usb.best_speed(&[UsbSpeed::Super]),
        None,
        "no SuperSpeed keyboard"
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        usb.control(&setup(0x80, 6, 0x100, 0, 8), &mut buf),
        Err(UsbError::NoDevice),
        "detached"
    );
    attached(&kbd, UsbSpeed::High);
    assert_eq!(
        usb.control(&setup(0x80, 6, 0x100, 0, 8), &mut buf),
        Ok(8),
        "wLength limits"
    );
    assert_eq!(buf[7], 64, "bMaxPacketSize0");
    assert_eq!(usb.control(&setup(0x80, 6, 0x100, 0, 64), &mut buf), Ok(18));
    assert_eq!(u16::from_le_bytes([buf[8], buf[9]]), 0x0627);
    let n = usb
        .control(&setup(0x80, 6, 0x200, 0, 64), &mut buf)
        .unwrap();
    assert_eq!(n, 9 + 9 + 9 + 7);
    assert_eq!(
        &buf[18..20],
        &[9, 0x21],
        "HID descriptor after the interface"
    );
    assert_eq!(
        &buf[27..34],
        &[7, 5, 0x81, 3, 8, 0, 7],
        "interrupt IN, 8 bytes, 2^6 microframes"
    );
    assert_eq!(usb.control(&setup(0x00, 5, 3, 0, 0), &mut buf), Ok(0));
    assert_eq!(usb.address(), 3);
    assert_eq!(usb.control(&setup(0x00, 9, 1, 0, 0), &mut buf), Ok(0));
    assert_eq!(usb.configuration(), 1);
    assert_eq!(
        usb.control(&setup(0x00, 9, 2, 0, 0), &mut buf),
        Err(UsbError::Stall),
        "one configuration"
    );
    assert_eq!(
        usb.control(&setup(0x81, 6, 0x2200, 0, 255), &mut buf),
        Ok(63),
        "report descriptor"
    );
    assert_eq!(
        usb.control(&setup(0x21, 0x0b, 0, 0, 0), &mut buf),
        Ok(0),
        "SET_PROTOCOL boot"
    );
    assert_eq!(usb.control(&setup(0xa1, 0x03, 0, 0, 1), &mut buf), Ok(1));
    assert_eq!(buf[0], 0);
    assert_eq!(
        usb.control(&setup(0x80, 6, 0x302, 0, 255), &mut buf),
        Ok(2 + 2 * 17),
        "\"QEMU USB Keyboard\""
    );
    assert_eq!(
        usb.control(&setup(0xc0, 0x55, 0, 0, 0), &mut buf),
        Err(UsbError::Stall),
        "vendor request"
    );
}

#[test]
fn keyboard_reports_keys_and_wakes_its_controller() {
    let kbd = Owned::<UsbKbd>::new();
    let wakeups = attached(&kbd, UsbSpeed::Full);
    let usb = kbd.upcast::<UsbDevice>();
    let mut report = [0xeeu8; 8];
    assert_eq!(
        usb.data_in(1, &mut report),
        Err(UsbError::Nak),
        "no key yet"
    );
    kbd.send_keys("ctrl-alt-f1").unwrap();
    assert_eq!(wakeups.load(Ordering::SeqCst), 1);
    assert_eq!(usb.data_in(1, &mut report), Ok(8));
    assert_eq!(report, [0x05, 0, 58, 0, 0, 0, 0, 0], "ctrl+alt, F1");
    assert_eq!(usb.data_in(1, &mut report), Ok(8));
    assert_eq!(report, [0; 8], "released");
    assert_eq!(usb.data_in(1, &mut report), Err(UsbError::Nak));
    assert_eq!(
        usb.data_in(2, &mut report),
        Err(UsbError::Stall),
        "no endpoint 2"
    );
    assert!(kbd.send_keys("ctrl-foo").unwrap_err().contains("`foo`"));
    for _ in 0..hid::QUEUE_LEN / 2 {
        kbd.send_keys("a").unwrap();
    }
    assert!(kbd.send_keys("b").is_err(), "queue full");
    assert_eq!(kbd.queued(), hid::QUEUE_LEN);
    usb.set_attached(None, None);
    assert_eq!(
        usb.data_in(1, &mut report),
        Err(UsbError::NoDevice),
        "detached"
    );
}

#[cfg(not(miri))]
mod storage {
    use super::*;

    struct Image(std::path::PathBuf);
    impl Drop for Image {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn image(name: &str, blocks: usize) -> Image {
        let path = std::env::temp_dir().join(format!("qom-usb-{name}-{}.img", std::process::id()));
        let bytes: Vec<u8> = (0..blocks * 512).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        Image(path)
    }

    fn cbw(tag: u32, length: u32, to_host: bool, cdb: &[u8]) -> Vec<u8> {
        let mut c = vec![0u8; 31];
        c[..4].copy_from_slice(&0x4342_5355u32.to_le_bytes());
        c[4..8].copy_from_slice(&tag.to_le_bytes());
        c[8..12].copy_from_slice(&length.to_le_bytes());
        c[12] = if to_host { 0x80 } else { 0 };
        c[14] = cdb.len() as u8;
        c[15..15 + cdb.len()].copy_from_slice(cdb);
        c
    }

    fn status(usb: &UsbDevice, tag: u32) -> (u32, u8) {
        let mut c = [0u8; 13];
        assert_eq!(usb.data_in(1, &mut c), Ok(13));
        assert_eq!(
            &c[..8],
            &[b'U', b'S', b'B', b'S', tag as u8, (tag >> 8) as u8, 0, 0]
        );
        (u32::from_le_bytes([c[8], c[9], c[10], c[11]]), c[12])
    }

    #[test]
    fn storage_needs_a_readable_file() {
        let dev = Owned::<UsbStorage>::new();
        let err = dev.upcast::<Device>().realize().unwrap_err().to_string();
        assert!(err.contains("property `drive` is required"), "{err}");
        let dev = Owned::<UsbStorage>::new();
        dev.set_property("file", "/nonexistent/disk.img").unwrap();
        let err = dev.upcast::<Device>().realize().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/disk.img"), "{err}");
    }

    #[test]
    fn bulk_only_transport_reads_and_writes_the_image() {
        let img = image("bot", 64);
        let dev = Owned::<UsbStorage>::new();
        dev.set_property("file", &img.0.display().to_string())
            .unwrap();
        attached(&dev, UsbSpeed::Super);
        let usb = dev.upcast::<UsbDevice>();
        let mut buf = [0u8; 512];
        let n = usb
            .control(&setup(0x80, 6, 0x200, 0, 255), &mut buf)
            .unwrap();
        assert_eq!(n, 9 + 9 + 2 * (7 + 6), "SuperSpeed: endpoint companions");
        assert_eq!(
            u16::from_le_bytes([buf[22], buf[23]]),
            1024,
            "bulk max packet at SuperSpeed"
        );
        assert_eq!(
            usb.control(&setup(0xa1, 0xfe, 0, 0, 1), &mut buf),
            Ok(1),
            "Get Max LUN"
        );

        // INQUIRY: 36 bytes, QEMU's strings.
        usb.data_out(2, &cbw(1, 36, true, &[0x12, 0, 0, 0, 36, 0]))
            .unwrap();
        let mut inq = [0u8; 36];
        assert_eq!(usb.data_in(1, &mut inq), Ok(36));
        assert_eq!(&inq[8..36], b"QEMU    QEMU HARDDISK   2.5+");
        assert_eq!(status(usb, 1), (0, 0));

        // READ(10) of blocks 2-3, fetched in two packets.
        usb.data_out(2, &cbw(2, 1024, true, &[0x28, 0, 0, 0, 0, 2, 0, 0, 2, 0]))
            .unwrap();
        let mut data = vec![0u8; 1024];
        assert_eq!(usb.data_in(1, &mut data[..600]), Ok(600));
        assert_eq!(usb.data_in(1, &mut data[600..]), Ok(424));
        assert!(data
            .iter()
            .enumerate()
            .all(|(i, &b)| b == ((1024 + i) % 251) as u8));
        assert_eq!(status(usb, 2), (0, 0));

        // WRITE(10) of block 5 in two packets: the image changes only
        // when the last one arrives.
        usb.data_out(2, &cbw(3, 512, false, &[0x2a, 0, 0, 0, 0, 5, 0, 0, 1, 0]))
            .unwrap();
        assert_eq!(usb.data_out(2, &[0xa5; 256]), Ok(256));
        let before = std::fs::read(&img.0).unwrap();
        assert_eq!(before[5 * 512], ((5 * 512) % 251) as u8, "not yet written");
        assert_eq!(usb.data_out(2, &[0xa5; 256]), Ok(256));
        assert_eq!(status(usb, 3), (0, 0));
        let after = std::fs::read(&img.0).unwrap();
        assert!(after[5 * 512..6 * 512].iter().all(|&b| b == 0xa5));
        assert_eq!(
            after[6 * 512],
            before[6 * 512],
            "the next block is untouched"
        );

        // Past the end: CHECK CONDITION with the host's data stage padded,
        // then REQUEST SENSE says why.
        usb.data_out(2, &cbw(4, 512, true, &[0x28, 0, 0, 0, 0, 64, 0, 0, 1, 0]))
            .unwrap();
        assert_eq!(usb.data_in(1, &mut data[..512]), Ok(512));
        assert_eq!(status(usb, 4), (0, 2));
        usb.data_out(2, &cbw(5, 18, true, &[0x03, 0, 0, 0, 18, 0]))
            .unwrap();
        assert_eq!(usb.data_in(1, &mut data[..18]), Ok(18));
        assert_eq!(
            (data[2], data[12]),
            (5, 0x21),
            "ILLEGAL REQUEST, LBA out of range"
        );
        assert_eq!(status(usb, 5), (0, 0));

        // A wrapper out of turn stalls; garbage is not a wrapper.
        assert_eq!(usb.data_in(1, &mut data[..13]), Err(UsbError::Stall));
        assert_eq!(usb.data_out(2, &[0; 31]), Err(UsbError::Stall));
    }

    #[test]
    fn a_write_cut_short_by_unplug_leaves_the_image_alone() {
        let img = image("cut", 8);
        let before = std::fs::read(&img.0).unwrap();
        let dev = Owned::<UsbStorage>::new();
        dev.set_property("file", &img.0.display().to_string())
            .unwrap();
        attached(&dev, UsbSpeed::High);
        let usb = dev.upcast::<UsbDevice>();
        usb.data_out(2, &cbw(1, 1024, false, &[0x2a, 0, 0, 0, 0, 1, 0, 0, 2, 0]))
            .unwrap();
        assert_eq!(usb.data_out(2, &[0x11; 512]), Ok(512));
        dev.upcast::<Device>().unrealize();
        assert_eq!(usb.data_out(2, &[0x11; 512]), Err(UsbError::NoDevice));
        assert_eq!(std::fs::read(&img.0).unwrap(), before);
    }
}

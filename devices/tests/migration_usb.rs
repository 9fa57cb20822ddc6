//! Snapshots of USB devices on a `pc` machine's xHCI: `usb-kbd` (the
//! `usb-device` level's address and configuration, and the keyboard's
//! report queue, protocol, idle rate and LEDs) and `usb-storage` (its
//! bulk-only phase and sense data). Each round-trips what the host reads
//! of it, a stream without its state loads with reset values, a newer
//! version is refused naming the path and both versions, and a storage
//! device saved in a data phase is refused (the rule for transfers in
//! flight).
//!
//! Not under Miri: the `pc` machine's guest RAM is an anonymous mapping
//! made through vm-memory, which Miri does not emulate.
#![cfg(not(miri))]

use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_devices::usb::hid::UsbKbd;
use qom_devices::usb::{Setup, UsbDevice};
use qom_rt::migration::{self, Value};
use qom_rt::prelude::*;

fn pc(path: &str) -> Machine {
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: "test.bin".into(),
            bytes: vec![0; 0x1_0000],
        }),
        ..MachineOptions::default()
    };
    Machine::create_with("pc", &format!("/{path}"), &options).expect("pc builds")
}

fn machine_with_kbd(path: &str) -> (Machine, Owned<UsbKbd>) {
    let m = pc(path);
    m.device_add("xhci-pci,id=usb0").unwrap();
    let kbd = m.device_add("usb-kbd,bus=usb0.0,id=kbd0").unwrap();
    let kbd = Owned::from(kbd.downcast::<UsbKbd>().expect("a usb-kbd"));
    (m, kbd)
}

fn setup(request_type: u8, request: u8, value: u16, length: u16) -> Setup {
    Setup {
        request_type,
        request,
        value,
        index: 0,
        length,
    }
}

/// What the host reads of a keyboard: its address, GET_CONFIGURATION,
/// GET_PROTOCOL, GET_IDLE, the LEDs, then every queued report (popping
/// them) until the interrupt endpoint NAKs.
fn kbd_view(kbd: &UsbKbd) -> Vec<Vec<u8>> {
    let dev = kbd.upcast::<UsbDevice>();
    let mut view = vec![vec![dev.address()], vec![kbd.leds()]];
    for (request_type, request) in [(0x80, 8), (0xa1, 3), (0xa1, 2)] {
        let mut buf = [0u8; 1];
        let n = dev
            .control(&setup(request_type, request, 0, 1), &mut buf)
            .unwrap_or(0);
        view.push(buf[..n].to_vec());
    }
    for _ in 0..20 {
        let mut report = [0u8; 8];
        match dev.data_in(1, &mut report) {
            Ok(n) => view.push(report[..n].to_vec()),
            Err(_) => break,
        }
    }
    view
}

/// Address 5, configuration 1, report protocol, idle rate 0x20, Caps Lock
/// lit, two keys queued (four reports).
fn busy_kbd(kbd: &UsbKbd) {
    let dev = kbd.upcast::<UsbDevice>();
    dev.set_address(5);
    dev.control(&setup(0x00, 9, 1, 0), &mut []).unwrap();
    dev.control(&setup(0x21, 0x0b, 1, 0), &mut []).unwrap();
    dev.control(&setup(0x21, 0x0a, 0x2000, 0), &mut []).unwrap();
    dev.control(&setup(0x21, 0x09, 0x0200, 1), &mut [0x02])
        .unwrap();
    kbd.send_keys("shift-a").unwrap();
    kbd.send_keys("b").unwrap();
}

#[test]
fn usb_kbd_round_trips_what_the_host_reads() {
    let (source, kbd) = machine_with_kbd("mig-kbd-source");
    busy_kbd(&kbd);
    let (destination, dest_kbd) = machine_with_kbd("mig-kbd-destination");
    let fresh = kbd_view(&dest_kbd);
    destination
        .load_state(&source.save_state().unwrap())
        .unwrap();
    let seen = kbd_view(&dest_kbd);
    assert_ne!(seen, fresh, "the test can fail");
    assert_eq!(seen, kbd_view(&kbd));
    assert_eq!(seen[0], [5], "address");
    assert_eq!(seen[1], [2], "LEDs");
    assert_eq!(seen[2..5], [vec![1], vec![1], vec![0x20]]);
    assert_eq!(seen.len(), 5 + 4, "four reports");
}

#[test]
fn usb_kbd_loads_a_stream_without_its_state_and_refuses_a_newer_one() {
    let (source, kbd) = machine_with_kbd("mig-kbd-old-source");
    busy_kbd(&kbd);
    let image = migration::save_image(source.object()).unwrap();
    let mut old = image.clone();
    for section in &mut old.sections {
        section
            .levels
            .retain(|l| l.type_name != "usb-kbd" && l.type_name != "usb-device");
    }
    let (destination, dest_kbd) = machine_with_kbd("mig-kbd-old-destination");
    let fresh = kbd_view(&machine_with_kbd("mig-kbd-old-fresh").1);
    destination.load_state(&old.encode()).unwrap();
    assert_eq!(kbd_view(&dest_kbd), fresh, "reset values");

    for type_name in ["usb-device", "usb-kbd"] {
        let mut newer = image.clone();
        let section = newer
            .sections
            .iter_mut()
            .find(|s| s.type_name == "usb-kbd")
            .unwrap();
        let level = section
            .levels
            .iter_mut()
            .find(|l| l.type_name == type_name)
            .unwrap();
        level.version = 2;
        let before = destination.save_state().unwrap();
        let err = destination.load_state(&newer.encode()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`/mig-kbd-old-destination/peripheral/kbd0` ({type_name}): the stream has \
                 version 2 of its state, this build loads versions 0 to 1"
            )
        );
        assert_eq!(destination.save_state().unwrap(), before, "unchanged");
    }
}

#[test]
fn usb_kbd_refuses_a_queue_longer_than_the_queue() {
    let (source, _) = machine_with_kbd("mig-kbd-bad-source");
    let mut image = migration::save_image(source.object()).unwrap();
    let section = image
        .sections
        .iter_mut()
        .find(|s| s.type_name == "usb-kbd")
        .unwrap();
    let level = section
        .levels
        .iter_mut()
        .find(|l| l.type_name == "usb-kbd")
        .unwrap();
    let Value::Struct(fields) = &mut level.fields[0].1 else {
        panic!("a struct");
    };
    let len = fields.iter_mut().find(|(n, _)| n == "reports_len").unwrap();
    len.1 = Value::U64(17);
    let (destination, _) = machine_with_kbd("mig-kbd-bad-destination");
    let err = destination.load_state(&image.encode()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-kbd-bad-destination/peripheral/kbd0` (usb-kbd version 1): field `state`: \
         reports_len 17 does not fit the 16-report queue"
    );
}

/// A machine with a 1 MiB `usb-storage` image in `dir`.
fn machine_with_disk(path: &str, dir: &std::path::Path) -> (Machine, Owned<UsbDevice>) {
    let file = dir.join(format!("{path}.img"));
    std::fs::write(&file, vec![0u8; 1 << 20]).unwrap();
    let m = pc(path);
    m.device_add("xhci-pci,id=usb0").unwrap();
    let disk = m
        .device_add(&format!(
            "usb-storage,bus=usb0.0,file={},id=disk0",
            file.display()
        ))
        .unwrap();
    let disk = Owned::from(disk.downcast::<UsbDevice>().expect("a USB device"));
    (m, disk)
}

/// A command block wrapper: `tag`, `len` bytes of data (IN), the CDB.
fn cbw(tag: u32, len: u32, cdb: &[u8]) -> [u8; 31] {
    let mut c = [0u8; 31];
    c[..4].copy_from_slice(&0x4342_5355u32.to_le_bytes());
    c[4..8].copy_from_slice(&tag.to_le_bytes());
    c[8..12].copy_from_slice(&len.to_le_bytes());
    c[12] = if len > 0 { 0x80 } else { 0 };
    c[14] = cdb.len() as u8;
    c[15..15 + cdb.len()].copy_from_slice(cdb);
    c
}

#[test]
fn usb_storage_round_trips_its_status_phase_and_refuses_a_data_phase() {
    let dir = std::env::temp_dir().join(format!("qom-mig-storage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (source, disk) = machine_with_disk("mig-disk-source", &dir);
    disk.set_address(3);
    // An unknown command: it fails with sense data, and the status
    // wrapper waits to be read (the status phase).
    disk.data_out(2, &cbw(0x11, 0, &[0xff, 0, 0, 0, 0, 0]))
        .unwrap();
    let (destination, dest_disk) = machine_with_disk("mig-disk-destination", &dir);
    destination
        .load_state(&source.save_state().unwrap())
        .unwrap();
    assert_eq!(dest_disk.address(), 3);
    // The status wrapper, then REQUEST SENSE's data, on both.
    let mut views = Vec::new();
    for d in [&disk, &dest_disk] {
        let mut csw = [0u8; 13];
        let n = d.data_in(1, &mut csw).unwrap();
        d.data_out(2, &cbw(0x12, 18, &[0x03, 0, 0, 0, 18, 0]))
            .unwrap();
        let mut sense = [0u8; 18];
        let m = d.data_in(1, &mut sense).unwrap();
        let mut status = [0u8; 13];
        let k = d.data_in(1, &mut status).unwrap();
        views.push((csw[..n].to_vec(), sense[..m].to_vec(), status[..k].to_vec()));
    }
    assert_eq!(views[0], views[1]);
    assert_ne!(views[0].0[12], 0, "the command failed");
    assert_eq!(views[0].1[2] & 0xf, 0x05, "ILLEGAL REQUEST migrated");

    // READ(10) of one block: saved between the wrapper and its data.
    disk.data_out(2, &cbw(0x13, 512, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]))
        .unwrap();
    let before = destination.save_state().unwrap();
    let err = destination
        .load_state(&source.save_state().unwrap())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`/mig-disk-destination/peripheral/disk0` (usb-storage version 1): field `state`: \
         saved in the data phase of a SCSI command (its data is not in guest memory); \
         migrate once the guest's command has completed"
    );
    assert_eq!(destination.save_state().unwrap(), before, "unchanged");
    drop((source, destination));
    let _ = std::fs::remove_dir_all(&dir);
}

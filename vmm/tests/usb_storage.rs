//! SeaBIOS boots from our `usb-storage` on our xHCI: it lists the drive
//! as QEMU does (`test-support/reference/seabios-256k-xhci-storage.log`),
//! loads the boot sector `usb_boot` through its mass-storage driver (bulk
//! transfers on our rings), which reads a pattern with INT 13h, checks
//! it, writes a block back and prints the result on the debug console.
//! The pattern and the written block are then checked in the image file.

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Drive, Firmware, Machine, MachineOptions};
use qom_test_support::guests::{self, usb_pattern, usb_written};
use qom_test_support::seabios::{self, BIOS};
use qom_vmm::{RunState, Vm, VmOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn skip(why: &str) {
    eprintln!("usb storage test skipped: {why}");
}

/// A disk image file, removed at the end.
struct Image(PathBuf);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The image of mode `mode` in a temporary file, or why not.
fn image(name: &str, mode: u8) -> Result<Image, String> {
    let disk = guests::usb_disk(mode)?;
    let path = std::env::temp_dir().join(format!("qom-{name}-{}.img", std::process::id()));
    std::fs::write(&path, disk).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Image(path))
}

#[test]
fn seabios_boots_a_sector_from_usb_storage_that_reads_and_writes() {
    if let Err(e) = qom_vmm::kvm_available() {
        return skip(&e.to_string());
    }
    let Ok(bios) = std::fs::read(BIOS) else {
        return skip(&format!("{BIOS} is missing (apt-get install seabios)"));
    };
    let img = match image("usb-boot", 0) {
        Ok(img) => img,
        Err(why) => return skip(&why),
    };
    let before = std::fs::read(&img.0).unwrap();
    let (debugcon, log) = CharBackend::Null.captured();
    // QEMU's spelling: -drive file=...,if=none,id=d0 -device usb-storage,drive=d0.
    let drive = Drive::parse(&format!(
        "file={},if=none,id=d0,format=raw",
        img.0.display()
    ));
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: BIOS.into(),
            bytes: bios,
        }),
        debugcon: Some(debugcon),
        drives: vec![drive.expect("a -drive")],
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/usb-storage-boot", &options).expect("pc builds");
    machine.device_add("xhci-pci,id=usb0").unwrap();
    machine
        .device_add("usb-storage,bus=usb0.0,id=disk0,drive=d0")
        .unwrap();
    let start = Instant::now();
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let finished =
        log.wait_for("USBBOOT ok\n", Duration::from_secs(60)) || log.text().contains(" error\n");
    let status = vm.status();
    eprintln!(
        "SeaBIOS start to the boot sector's result: {:.2?}; {status}",
        start.elapsed()
    );
    drop(vm);
    let text = log.text();
    assert!(
        finished,
        "no result from the boot sector; {status}; log:\n{text}"
    );
    assert_eq!(status, RunState::Running);
    let (ours, qemu) = (
        seabios::usb_lines(&text),
        seabios::usb_lines(seabios::REFERENCE_USB_STORAGE),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert!(
        qemu.iter().any(|l| l == "USBBOOT ok"),
        "the reference booted"
    );
    assert_eq!(ours, qemu, "our log:\n{text}");
    // The image: the pattern untouched, LBA 9 written, nothing else.
    let after = std::fs::read(&img.0).unwrap();
    for lba in 1..=8 {
        assert!((0..512).all(|i| after[lba * 512 + i] == usb_pattern(lba, i)));
    }
    assert!(
        (0..512).all(|i| after[9 * 512 + i] == usb_written(i)),
        "LBA 9 written"
    );
    let changed =
        (0..after.len() / 512).filter(|&s| after[s * 512..][..512] != before[s * 512..][..512]);
    assert_eq!(changed.collect::<Vec<_>>(), [9], "only LBA 9 changed");
}

#[test]
fn sendkey_picks_the_usb_disk_from_the_boot_menu() {
    use qom_devices::usb::hid::UsbKbd;
    if let Err(e) = qom_vmm::kvm_available() {
        return skip(&e.to_string());
    }
    let Ok(bios) = std::fs::read(BIOS) else {
        return skip(&format!("{BIOS} is missing (apt-get install seabios)"));
    };
    let img = match image("usb-menu", 0) {
        Ok(img) => img,
        Err(why) => return skip(&why),
    };
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: BIOS.into(),
            bytes: bios,
        }),
        debugcon: Some(debugcon),
        boot_menu: true,
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/usb-menu", &options).expect("pc builds");
    machine.device_add("xhci-pci,id=usb0").unwrap();
    let kbd = machine.device_add("usb-kbd,bus=usb0.0,id=kbd0").unwrap();
    machine
        .device_add(&format!(
            "usb-storage,bus=usb0.0,id=disk0,file={}",
            img.0.display()
        ))
        .unwrap();
    let Ok(kbd) = kbd.downcast_owned::<UsbKbd>() else {
        panic!("device_add usb-kbd made a usb-kbd")
    };
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let wait = |what: &str| {
        assert!(
            log.wait_for(what, Duration::from_secs(60)),
            "no '{what}'; log:\n{}",
            log.text()
        )
    };
    // What HMP's `sendkey esc` and `sendkey 1` do, at the same points as
    // the reference capture.
    wait("Press ESC for boot menu");
    kbd.send_keys("esc").unwrap();
    wait("Select boot device");
    std::thread::sleep(Duration::from_millis(300));
    kbd.send_keys("1").unwrap();
    wait("USBBOOT ok\n");
    let status = vm.status();
    drop(vm);
    assert_eq!(status, RunState::Running);
    let text = log.text();
    let (ours, qemu) = (
        seabios::usb_lines(&text),
        seabios::usb_lines(seabios::REFERENCE_USB_MENU),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert!(
        qemu.iter().any(|l| l.starts_with("1. USB MSC Drive")),
        "the reference's menu"
    );
    assert_eq!(ours, qemu, "our log:\n{text}");
}

/// The same boot from the disk on the PIIX3's UHCI (`-usb`, bus
/// `usb-bus.0`): full speed, 64-byte bulk packets through our frame list.
#[test]
fn seabios_boots_the_sector_from_usb_storage_on_uhci() {
    if let Err(e) = qom_vmm::kvm_available() {
        return skip(&e.to_string());
    }
    let Ok(bios) = std::fs::read(BIOS) else {
        return skip(&format!("{BIOS} is missing (apt-get install seabios)"));
    };
    let img = match image("uhci-boot", 0) {
        Ok(img) => img,
        Err(why) => return skip(&why),
    };
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: BIOS.into(),
            bytes: bios,
        }),
        debugcon: Some(debugcon),
        usb: true,
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/uhci-storage-boot", &options).expect("pc builds");
    machine
        .device_add(&format!(
            "usb-storage,bus=usb-bus.0,file={}",
            img.0.display()
        ))
        .unwrap();
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let finished = log.wait_for("USBBOOT ok\n", Duration::from_secs(60));
    let status = vm.status();
    drop(vm);
    let text = log.text();
    assert!(
        finished,
        "no result from the boot sector; {status}; log:\n{text}"
    );
    let (ours, qemu) = (
        seabios::usb_lines(&text),
        seabios::usb_lines(seabios::REFERENCE_UHCI_STORAGE),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert_eq!(ours, qemu, "our log:\n{text}");
    let after = std::fs::read(&img.0).unwrap();
    assert!(
        (0..512).all(|i| after[9 * 512 + i] == usb_written(i)),
        "LBA 9 written"
    );
}

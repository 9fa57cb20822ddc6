//! SeaBIOS from Debian's `seabios` package on our `pc` with an xHCI
//! controller and USB devices on its bus, against real QEMU's log for the
//! same command line (`test-support/reference/`): SeaBIOS enumerates the
//! keyboard through our command, transfer and event rings and must print
//! the same port line and `USB keyboard initialized` as under QEMU with
//! `-device qemu-xhci,id=usb0 -device usb-kbd,bus=usb0.0`; and the
//! controller's configuration space, read by a guest, is QEMU's.

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_test_support::seabios::{self, BIOS};
use qom_vmm::{RunState, Vm, VmOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn skip(why: &str) {
    eprintln!("usb seabios test skipped: {why}");
}

/// A `pc` with SeaBIOS and the debug console, the devices in `devices`
/// added, running until `until` shows in the log (or 60 s). Returns the
/// log, or `None` after printing why the test skipped.
fn boot(path: &str, devices: &[&str], until: &str) -> Option<(String, RunState)> {
    if let Err(e) = qom_vmm::kvm_available() {
        skip(&e.to_string());
        return None;
    }
    let Ok(bytes) = std::fs::read(BIOS) else {
        skip(&format!("{BIOS} is missing (apt-get install seabios)"));
        return None;
    };
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: BIOS.into(),
            bytes,
        }),
        debugcon: Some(debugcon),
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", path, &options).expect("pc builds");
    for device in devices {
        machine
            .device_add(device)
            .unwrap_or_else(|e| panic!("{device}: {e}"));
    }
    let start = Instant::now();
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let reached = log.wait_for(until, Duration::from_secs(60));
    let status = vm.status();
    eprintln!(
        "SeaBIOS start to '{until}': {:.2?}; {status}",
        start.elapsed()
    );
    let text = log.text();
    assert!(
        reached,
        "SeaBIOS did not reach '{until}'; {status}; its log:\n{text}"
    );
    drop(vm);
    Some((text, status))
}

#[test]
fn seabios_finds_the_usb_keyboard_like_qemu() {
    let devices = ["xhci-pci,id=usb0", "usb-kbd,bus=usb0.0"];
    let Some((text, status)) = boot("/usb-seabios-kbd", &devices, "No bootable device.") else {
        return;
    };
    assert_eq!(
        status,
        RunState::Running,
        "no guest fault, no unhandled exit"
    );
    let (ours, qemu) = (
        seabios::usb_lines(&text),
        seabios::usb_lines(seabios::REFERENCE_USB_KBD),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert!(
        qemu.iter().any(|l| l == "USB keyboard initialized"),
        "the reference has the line"
    );
    assert_eq!(ours, qemu, "our log:\n{text}");
}

/// The guest `pci_dump` prints the configuration space of 00:02.0 as
/// plugged; under QEMU with `-device qemu-xhci` it printed
/// `test-support/reference/pci-dump-qemu-xhci.log`. Ours must print the
/// same, dword for dword.
#[test]
fn xhci_configuration_space_is_qemus_dword_for_dword() {
    if let Err(e) = qom_vmm::kvm_available() {
        return skip(&e.to_string());
    }
    let path = match qom_test_support::guests::path("pci_dump") {
        Ok(path) => path,
        Err(why) => return skip(&why),
    };
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: path.display().to_string(),
            bytes: std::fs::read(&path).unwrap(),
        }),
        debugcon: Some(debugcon),
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/usb-pci-dump", &options).expect("pc builds");
    machine.device_add("xhci-pci,id=usb0").unwrap();
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    assert!(
        log.wait_for("END\n", Duration::from_secs(30)),
        "log:\n{}",
        log.text()
    );
    drop(vm);
    let ours = log.text();
    let theirs = seabios::REFERENCE_PCI_DUMP_XHCI;
    let differ: Vec<String> = theirs
        .lines()
        .zip(ours.lines())
        .filter(|(t, o)| t != o)
        .map(|(t, o)| format!("QEMU {t} | ours {o}"))
        .collect();
    assert!(
        differ.is_empty(),
        "configuration space differs:\n{}",
        differ.join("\n")
    );
    assert_eq!(ours.lines().count(), theirs.lines().count());
}

/// The keyboard on the PIIX3's UHCI (`-usb`, bus `usb-bus.0`): SeaBIOS's
/// UHCI driver finds it through our frame list, queue heads and TDs.
#[test]
fn seabios_finds_the_usb_keyboard_on_uhci_like_qemu() {
    if let Err(e) = qom_vmm::kvm_available() {
        return skip(&e.to_string());
    }
    let Ok(bytes) = std::fs::read(BIOS) else {
        return skip(&format!("{BIOS} is missing (apt-get install seabios)"));
    };
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: BIOS.into(),
            bytes,
        }),
        debugcon: Some(debugcon),
        usb: true,
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/usb-seabios-uhci", &options).expect("pc builds");
    machine.device_add("usb-kbd,bus=usb-bus.0").unwrap();
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let reached = log.wait_for("No bootable device.", Duration::from_secs(60));
    let status = vm.status();
    drop(vm);
    let text = log.text();
    assert!(reached, "SeaBIOS did not finish; {status}; log:\n{text}");
    let (ours, qemu) = (
        seabios::usb_lines(&text),
        seabios::usb_lines(seabios::REFERENCE_UHCI_KBD),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert!(qemu.iter().any(|l| l == "USB keyboard initialized"));
    assert_eq!(ours, qemu, "our log:\n{text}");
}

//! SeaBIOS from Debian's `seabios` package on our `pc` with an xHCI
//! controller and the PIIX3's UHCI function (QEMU's `-device
//! qemu-xhci,id=usb0 -usb`), through the Rust API: it must reach "No
//! bootable device." and print the same PCI enumeration, USB controller
//! and keyboard lines as real QEMU did, and try the drives in the order
//! QEMU does without its kvmvapic ROM (`test-support/reference/`). The
//! monitor's tests run the same through `qom`.

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_test_support::seabios::{self, BIOS};
use qom_vmm::{RunState, Vm, VmOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn skip(why: &str) {
    eprintln!("seabios test skipped: {why}");
}

#[test]
fn seabios_enumerates_like_qemu_and_finds_no_boot_device() {
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
        usb: true,
        debugcon: Some(debugcon),
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/seabios", &options).expect("pc builds");
    machine.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    let start = Instant::now();
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let reached = log.wait_for("No bootable device.", Duration::from_secs(60));
    let elapsed = start.elapsed();
    let status = vm.status();
    eprintln!("SeaBIOS start to 'No bootable device.': {elapsed:.2?}; {status}");
    let text = log.text();
    assert!(
        reached,
        "SeaBIOS did not finish; {status}; its log:\n{text}"
    );
    assert_eq!(
        status,
        RunState::Running,
        "no guest fault, no unhandled exit"
    );
    let (ours, qemu) = (
        seabios::compared(&text),
        seabios::compared(seabios::REFERENCE),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert_eq!(ours, qemu, "our log:\n{text}");
    let no_vapic = seabios::boot_order(seabios::REFERENCE_NO_VAPIC);
    assert_eq!(seabios::boot_order(&text), no_vapic, "our log:\n{text}");
    drop(vm);
}

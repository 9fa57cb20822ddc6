//! SeaBIOS from Debian's `seabios` package on our `pc` with an xHCI
//! controller and the PIIX3's UHCI function (QEMU's `-device
//! qemu-xhci,id=usb0 -usb`): it must reach "No bootable device." and print
//! the same PCI enumeration and USB controller lines as real QEMU did
//! (`reference/seabios-256k-xhci-usb.log`, see `reference/README.md`).

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_vmm::{RunState, Vm, VmOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIOS: &str = "/usr/share/seabios/bios-256k.bin";
const REFERENCE: &str = include_str!("reference/seabios-256k-xhci-usb.log");

/// The lines compared (reference/README.md): PCI BAR placement and init of
/// the functions both machines have, the ELCR setup, the USB controllers.
fn compared(log: &str) -> Vec<String> {
    let ours = ["00:00.0", "00:01.0", "00:01.2", "00:02.0"];
    log.lines()
        .filter(|l| {
            let pci = (l.starts_with("PCI: map device") || l.starts_with("PCI: init"))
                && ours.iter().any(|bdf| l.contains(bdf));
            pci || l.starts_with("PIIX3/PIIX4 init")
                || l.starts_with("XHCI init")
                || l.starts_with("XHCI    protocol")
                || l.starts_with("UHCI init")
                || l.starts_with("No bootable device")
        })
        .map(str::to_string)
        .collect()
}

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
    let ours = compared(&text);
    let qemu = compared(REFERENCE);
    for (a, b) in qemu.iter().zip(&ours) {
        eprintln!("{a:<72} | {b}");
    }
    assert_eq!(ours, qemu, "our log:\n{text}");
    drop(vm);
}

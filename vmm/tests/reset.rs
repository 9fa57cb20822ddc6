//! `system_reset` puts the in-kernel PIC, IOAPIC and PIT back: the guest
//! in `test-support/guests/reset_probe.S` prints their state on the debug
//! console, changes it and halts; after a reset it prints the state it
//! finds again, which must be the first boot's.

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_vmm::{RunState, Vm, VmOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn system_reset_restores_the_interrupt_controllers_and_the_pit() {
    if let Err(e) = qom_vmm::kvm_available() {
        return eprintln!("reset test skipped: {e}");
    }
    let path = match qom_test_support::guests::path("reset_probe") {
        Ok(path) => path,
        Err(why) => return eprintln!("reset test skipped: {why}"),
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
    let machine = Machine::create_with("pc", "/reset-probe", &options).expect("pc builds");
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let soon = || Instant::now() + Duration::from_secs(30);
    let first = log.wait_from(0, "!\n", soon()).expect("the probe ran");
    let first_line = log.text();
    vm.reset().expect("system_reset");
    assert_eq!(vm.status(), RunState::Running, "a running guest runs on");
    log.wait_from(first, "!\n", soon())
        .expect("the probe ran again");
    let text = log.text();
    let (before, after) = text.split_at(first as usize);
    eprintln!("first boot:  {before}after reset: {after}");
    assert_eq!(before, first_line);
    assert!(
        before.starts_with("IMR=") && !before.contains("IMR=a5"),
        "{before}"
    );
    assert!(!before.contains("REDIR0=000000ab"), "{before}");
    assert_eq!(after, before, "the reset put the PIC, IOAPIC and PIT back");
    // A reset while stopped leaves the guest in prelaunch, as QEMU does.
    vm.pause().unwrap();
    vm.reset().unwrap();
    assert_eq!(vm.status(), RunState::Prelaunch);
}

//! Hot-unplug racing a running guest: the guest in
//! `test-support/guests/bar_reader.S`
//! programs the xHCI controller's BAR 0 in slot 2 and reads it in a loop
//! on the vCPU thread while this thread unplugs and replugs the controller
//! 1,000 times. Every read must be served with the controller's value or
//! be unassigned (all ones, counted); the guest exits with status 5 on any
//! other value. At the end no controller allocation is left.

use qom_devices::chardev::CharBackend;
use qom_devices::hw::usb::XhciPci;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_test_support::CountingAllocator;
use qom_vmm::{RunState, Vm, VmOptions};
use std::alloc::Layout;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts live controller allocations.
#[global_allocator]
static CONTROLLERS: CountingAllocator = CountingAllocator::new(Layout::new::<XhciPci>());

const CYCLES: usize = 1000;

#[test]
fn guest_reads_race_a_thousand_unplugs() {
    if let Err(e) = qom_vmm::kvm_available() {
        return eprintln!("unplug test skipped: {e}");
    }
    let path = match qom_test_support::guests::path("bar_reader") {
        Ok(path) => path,
        Err(why) => return eprintln!("unplug test skipped: {why}"),
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
    let pc = Machine::create_with("pc", "/unplug", &options).expect("pc builds");
    pc.device_add("isa-debug-exit,iobase=0xf4,iosize=4")
        .expect("exit port plugs");
    pc.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    let pc = Arc::new(pc);
    let vm = Vm::new(pc.clone(), VmOptions::default()).expect("VM starts");
    assert!(
        log.wait_for("served\n", Duration::from_secs(30)),
        "the guest read the controller once before the first unplug"
    );
    let start = Instant::now();
    for cycle in 0..CYCLES {
        pc.device_del("usb0").expect("unplug");
        pc.device_add("xhci-pci,id=usb0").expect("replug");
        if cycle % 8 == 0 {
            // Let the guest program the new controller and read it.
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let elapsed = start.elapsed();
    let status = vm.status();
    assert_eq!(
        status,
        RunState::Running,
        "the guest saw a value that was neither served nor unassigned, or faulted"
    );
    let regs = vm.registers().expect("registers");
    let (served, unassigned) = (regs.regs.rsi, regs.regs.rdi);
    let counted = pc.system().unassigned_accesses();
    eprintln!(
        "{CYCLES} unplug/replug cycles in {elapsed:.2?} under a running guest: \
         {served} reads served, {unassigned} unassigned (system memory counted {counted})"
    );
    assert!(served > 0, "the guest read the controller");
    assert!(counted >= unassigned, "every unassigned read was counted");
    drop(vm);
    drop(pc);
    assert_eq!(CONTROLLERS.live(), 0, "no controller allocation left");
}

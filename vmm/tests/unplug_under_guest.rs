//! Hot-unplug racing a running guest: the guest in `guests/bar_reader.S`
//! programs the xHCI controller's BAR 0 in slot 2 and reads it in a loop
//! on the vCPU thread while this thread unplugs and replugs the controller
//! 1,000 times. Every read must be served with the controller's value or
//! be unassigned (all ones, counted); the guest exits with status 5 on any
//! other value. At the end no controller allocation is left.

use qom_devices::hw::usb::XhciPci;
use qom_devices::pc::{Pc, PcConfig};
use qom_vmm::{RunState, Vm, VmOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts live allocations of the controller's size.
struct Watch;
static LIVE_CONTROLLERS: AtomicUsize = AtomicUsize::new(0);

fn watched(layout: Layout) -> bool {
    layout == Layout::new::<XhciPci>()
}

// SAFETY: forwards every call to the system allocator unchanged; it only
// counts allocations of one layout.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if watched(layout) {
            LIVE_CONTROLLERS.fetch_add(1, SeqCst);
        }
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if watched(layout) {
            LIVE_CONTROLLERS.fetch_sub(1, SeqCst);
        }
        // SAFETY: `ptr` came from `alloc` above with `layout`, i.e. from
        // the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

const CYCLES: usize = 1000;

#[test]
fn guest_reads_race_a_thousand_unplugs() {
    if let Err(e) = qom_vmm::kvm_available() {
        return eprintln!("unplug test skipped: {e}");
    }
    let error = env!("QOM_GUESTS_ERROR");
    if !error.is_empty() {
        return eprintln!("unplug test skipped: test guests not built: {error}");
    }
    let bios = std::fs::read(concat!(env!("QOM_GUESTS_DIR"), "/bar_reader.bin")).unwrap();
    let mut config = PcConfig::new(bios);
    config.debug_exit = true;
    let pc = Pc::new(config, "/unplug").expect("pc builds");
    pc.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    let pc = Arc::new(pc);
    let vm = Vm::new(pc.clone(), VmOptions::default()).expect("VM starts");
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
    assert_eq!(
        LIVE_CONTROLLERS.load(SeqCst),
        0,
        "no controller allocation left"
    );
}

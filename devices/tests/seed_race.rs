//! The seed's bug, as a test: two threads issue continuous guest accesses
//! to the xHCI BAR 0 while a third hot-plugs and hot-unplugs the device,
//! over and over. In C QOM the embedded `XHCIState` owning BAR 0's region
//! was freed with its container under an in-flight access. Here every
//! access is either served (with a value from live state) or counted as
//! unassigned, finalize runs in the documented order, and no allocation
//! of the controller is left at the end.

use qom_devices::hw::usb::XhciPci;
use qom_devices::pci::MMIO_BASE;
use qom_devices::Machine;
use qom_test_support::CountingAllocator;
use std::alloc::Layout;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

/// Counts live allocations of the controller's size.
#[global_allocator]
static CONTROLLERS: CountingAllocator = CountingAllocator::new(Layout::new::<XhciPci>());

const ROUNDS: usize = if cfg!(miri) { 3 } else { 1000 };

/// CAPLENGTH (0x40) and HCIVERSION (0x0100) as one 32-bit read.
const CAP_WORD: u64 = 0x0100_0040;

#[test]
fn guest_accesses_race_hot_unplug() {
    let machine = Machine::create_at("virt", "/seed").unwrap();
    qom_devices::lifetime::record_finalizations(true);
    let stop = AtomicBool::new(false);
    let served = AtomicU64::new(0);
    let unassigned = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    match machine.system().read(MMIO_BASE, 4) {
                        CAP_WORD => served.fetch_add(1, SeqCst),
                        0xffff_ffff => unassigned.fetch_add(1, SeqCst),
                        other => panic!("an access saw {other:#x}: neither served nor unassigned"),
                    };
                }
            });
        }
        for round in 0..ROUNDS {
            machine.device_add("xhci-pci,id=usb0").unwrap();
            if round % 2 == 0 {
                std::thread::yield_now();
            }
            machine.device_del("usb0").unwrap();
        }
        stop.store(true, SeqCst);
    });
    let served = served.load(SeqCst);
    let unassigned = unassigned.load(SeqCst);
    eprintln!(
        "seed race: {ROUNDS} plug/unplug rounds, {served} accesses served, {unassigned} unassigned"
    );
    assert!(served + unassigned > 0);

    // Every controller finalized exactly once: the container first, then
    // its state (now, or when an in-flight access let go), then the region
    // the state owns (the design document's order). At every point of the record,
    // containers >= states >= regions.
    let events = qom_devices::lifetime::take_finalizations();
    qom_devices::lifetime::record_finalizations(false);
    let (mut pci, mut state, mut region) = (0, 0, 0);
    for e in &events {
        match *e {
            "xhci-pci" => pci += 1,
            "base-xhci" => state += 1,
            "memory-region" => region += 1,
            _ => {}
        }
        assert!(
            pci >= state && state >= region,
            "out of order at {e}: {pci} {state} {region}"
        );
    }
    assert_eq!(
        (pci, state, region),
        (ROUNDS, ROUNDS, ROUNDS),
        "each finalized exactly once"
    );
    assert_eq!(CONTROLLERS.live(), 0, "no controller allocation left");
    let counts = qom_devices::lifetime::counts();
    assert_eq!(counts["xhci-pci"].live, 0);
    assert_eq!(counts["base-xhci"].live, 0);
}

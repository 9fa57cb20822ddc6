//! Unplugging the xHCI controller while the guest streams from the USB
//! disk on it: the guest (SeaBIOS booted from the disk, `usb_boot` in
//! stream mode) loops INT 13h reads and rewrites of one block through the
//! controller's rings and DMA while this thread deletes the controller
//! (which takes its disk along), 100 times, each time after a fresh boot
//! whose enumeration found the controller plugged in the cycle before
//! (see `usb_common::cycles`). A doorbell in flight holds the controller
//! state and its PCI function until it returns (the seed's rule); after
//! that, DMA and MMIO to the old controller fail cleanly. The guest must
//! see the disk fail and keep running; the image must hold exactly what
//! the guest wrote; no controller may be left allocated.

mod usb_common;

use qom_devices::hw::usb::XhciPci;
use qom_test_support::CountingAllocator;
use std::alloc::Layout;

#[global_allocator]
static CONTROLLERS: CountingAllocator = CountingAllocator::new(Layout::new::<XhciPci>());

#[test]
fn guest_streaming_from_usb_disk_survives_a_hundred_controller_unplugs() {
    let s = match usb_common::boot_on("/usb-unplug-xhci", usb_common::Controller::Xhci) {
        Ok(s) => s,
        Err(why) => return eprintln!("usb unplug test skipped: {why}"),
    };
    // SeaBIOS waits out a 5 s transfer timeout once the controller is
    // gone: the failure is waited for in every 20th cycle.
    let summary = s.unplug_cycles(usb_common::Target::Controller, 100, 20);
    s.check_after(&summary, "controller unplugs");
    let usb_common::Streaming { machine, vm, .. } = s;
    drop(vm);
    drop(machine);
    assert_eq!(CONTROLLERS.live(), 0, "no controller allocation left");
}

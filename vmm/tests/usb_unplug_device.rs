//! Unplugging the USB disk while the guest streams from it: the guest
//! (SeaBIOS booted from the disk, `usb_boot` in stream mode) loops INT
//! 13h reads and rewrites of one block while this thread deletes the
//! `usb-storage` device, 100 times, each time after a fresh boot whose
//! enumeration found the disk plugged in the cycle before (see
//! `usb_common::cycles`). A transfer in flight keeps the device alive
//! until it completes; the guest must see the disk fail (INT 13h errors:
//! "E"/"F") and keep running; the image must hold exactly what the guest
//! wrote (no torn or stray writes); and no disk device may be left
//! allocated at the end.

mod usb_common;

use qom_devices::usb::storage::UsbStorage;
use qom_test_support::CountingAllocator;
use std::alloc::Layout;

#[global_allocator]
static DISKS: CountingAllocator = CountingAllocator::new(Layout::new::<UsbStorage>());

#[test]
fn guest_streaming_from_usb_disk_survives_a_hundred_disk_unplugs() {
    let s = match usb_common::boot_on("/usb-unplug-disk", usb_common::Controller::Xhci) {
        Ok(s) => s,
        Err(why) => return eprintln!("usb unplug test skipped: {why}"),
    };
    // The controller reports a vanished disk at once: every cycle waits
    // for the guest to see it.
    let summary = s.unplug_cycles(usb_common::Target::Disk, 100, 1);
    s.check_after(&summary, "disk unplugs");
    let usb_common::Streaming { machine, vm, .. } = s;
    drop(vm);
    drop(machine);
    assert_eq!(DISKS.live(), 0, "no usb-storage allocation left");
}

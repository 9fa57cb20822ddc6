//! The disk unplug test of `usb_unplug_device.rs` on the PIIX3's UHCI:
//! the guest streams INT 13h reads and rewrites from the disk on
//! `usb-bus.0` through the UHCI's frame list (the frame thread running
//! TDs against the disk) while this thread deletes the disk, 100 times,
//! each after a fresh boot. The guest sees the disk fail and keeps
//! running, the image holds exactly what it wrote, no disk is left
//! allocated.

mod usb_common;

use qom_devices::usb::storage::UsbStorage;
use qom_test_support::CountingAllocator;
use std::alloc::Layout;

#[global_allocator]
static DISKS: CountingAllocator = CountingAllocator::new(Layout::new::<UsbStorage>());

#[test]
fn guest_streaming_from_the_uhci_disk_survives_a_hundred_disk_unplugs() {
    let s = match usb_common::boot_on("/usb-unplug-uhci", usb_common::Controller::Uhci) {
        Ok(s) => s,
        Err(why) => return eprintln!("usb unplug test skipped: {why}"),
    };
    let summary = s.unplug_cycles(usb_common::Target::Disk, 100, 1);
    s.check_after(&summary, "disk unplugs on the UHCI");
    let usb_common::Streaming { machine, vm, .. } = s;
    drop(vm);
    drop(machine);
    assert_eq!(DISKS.live(), 0, "no usb-storage allocation left");
}

//! The disk unplug test of `usb_unplug_device.rs` on the PIIX3's UHCI:
//! the guest streams INT 13h reads and rewrites from the disk on
//! `usb-bus.0` through the UHCI's frame list (the frame thread running
//! TDs against the disk) while this thread deletes and re-adds the disk
//! 100 times. The guest sees the disk fail and keeps running, the image
//! holds exactly what it wrote, no disk is left allocated.

mod usb_common;

use qom_devices::usb::storage::UsbStorage;
use qom_test_support::CountingAllocator;
use qom_vmm::RunState;
use std::alloc::Layout;
use std::time::{Duration, Instant};

#[global_allocator]
static DISKS: CountingAllocator = CountingAllocator::new(Layout::new::<UsbStorage>());

const CYCLES: usize = 100;

#[test]
fn guest_streaming_from_the_uhci_disk_survives_a_hundred_disk_unplugs() {
    let s = match usb_common::boot_on("/usb-unplug-uhci", usb_common::Controller::Uhci) {
        Ok(s) => s,
        Err(why) => return eprintln!("usb unplug test skipped: {why}"),
    };
    let start = Instant::now();
    for cycle in 0..CYCLES {
        s.machine.device_del("disk0").expect("unplug the disk");
        s.machine
            .device_add(&s.disk_spec())
            .expect("replug the disk");
        if cycle % 10 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let elapsed = start.elapsed();
    assert!(
        s.wait_for_guest(|out| out.contains(['E', 'F']), Duration::from_secs(30)),
        "the guest saw the disk fail; log:\n{}",
        s.log.text()
    );
    let before = s.guest_output().len();
    s.wait_for_guest(|out| out.len() > before, Duration::from_secs(30));
    let status = s.vm.status();
    let out = s.guest_output();
    let (reads, errors) = (out.matches('r').count(), out.matches(['E', 'F']).count());
    eprintln!(
        "{CYCLES} disk unplug/replug cycles on the UHCI in {elapsed:.2?} under a streaming guest: \
         {reads} good reads, {errors} failed; {status}"
    );
    assert_eq!(status, RunState::Running, "the guest keeps running");
    assert!(
        out.len() > before,
        "the guest keeps trying after the failures: {out}"
    );
    s.image_intact()
        .expect("the image holds exactly what the guest wrote");
    let usb_common::Streaming { machine, vm, .. } = s;
    drop(vm);
    drop(machine);
    assert_eq!(DISKS.live(), 0, "no usb-storage allocation left");
}

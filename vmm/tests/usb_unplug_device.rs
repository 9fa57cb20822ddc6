//! Unplugging the USB disk while the guest streams from it: the guest
//! (SeaBIOS booted from the disk, `usb_boot` in stream mode) loops INT
//! 13h reads and rewrites of one block while this thread deletes and
//! re-adds the `usb-storage` device 100 times. A transfer in flight keeps
//! the device alive until it completes; the guest must see the disk fail
//! (INT 13h errors: "E"/"F") and keep running; the image must hold
//! exactly what the guest wrote (no torn or stray writes); and no disk
//! device may be left allocated at the end.

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
fn guest_streaming_from_usb_disk_survives_a_hundred_disk_unplugs() {
    let s = match usb_common::boot_on("/usb-unplug-disk", usb_common::Controller::Xhci) {
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
    // SeaBIOS does not re-enumerate: from the first unplug on, its reads
    // fail (transaction error, then a halted endpoint and timeouts).
    assert!(
        s.wait_for_guest(|out| out.contains(['E', 'F']), Duration::from_secs(30)),
        "the guest saw the disk fail; log:\n{}",
        s.log.text()
    );
    // Once its transfers stop completing, each INT 13h waits out
    // SeaBIOS's transfer timeout (5 s) before failing: the log grows
    // again within a few of them.
    let before = s.guest_output().len();
    s.wait_for_guest(|out| out.len() > before, Duration::from_secs(30));
    let status = s.vm.status();
    let out = s.guest_output();
    let (reads, errors) = (out.matches('r').count(), out.matches(['E', 'F']).count());
    eprintln!(
        "{CYCLES} disk unplug/replug cycles in {elapsed:.2?} under a streaming guest: \
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

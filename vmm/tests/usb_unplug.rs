//! Unplug with DMA in flight, under a guest: SeaBIOS boots from a USB
//! disk and the boot sector (`usb_boot` in stream mode) loops INT 13h
//! reads and rewrites of one block through the controller's rings and
//! DMA, while this test deletes, 100 times each, at a pseudo-random point
//! of the stream and each time after a fresh boot (see
//! `usb_common::cycles`):
//! * the xHCI controller (`device_del usb0`, which takes its disk along);
//! * the `usb-storage` disk on the xHCI;
//! * the `usb-storage` disk on the PIIX3's UHCI (the frame thread running
//!   TDs against it).
//!
//! A transfer in flight holds the controller state (or the disk) alive
//! until it completes (the seed's rule); after that the old controller's
//! DMA and MMIO fail cleanly and at most one INT 13h call still
//! succeeds. The guest must see the disk fail and keep running, the image
//! must hold exactly what the guest wrote, and no controller or disk
//! allocation may be left. A SeaBIOS boot takes about 4 s under the
//! nested KVM of the development machine, so the three run side by side,
//! each its own machine on its own thread.

mod usb_common;

use qom_devices::hw::usb::XhciPci;
use qom_devices::usb::storage::UsbStorage;
use qom_test_support::CountingAllocator;
use std::alloc::Layout;
use usb_common::{Controller, Target};

#[global_allocator]
static WATCHED: CountingAllocator =
    CountingAllocator::pair(Layout::new::<XhciPci>(), Layout::new::<UsbStorage>());

const CYCLES: usize = 100;

#[test]
fn guest_streaming_from_usb_disks_survives_a_hundred_unplugs_of_each_kind() {
    // SeaBIOS waits out a 5 s transfer timeout once the controller is
    // gone: that failure is waited for in every 20th cycle, a vanished
    // disk's (reported at once) in every cycle.
    let scenarios = [
        (
            "/usb-unplug-xhci",
            Controller::Xhci,
            Target::Controller,
            20,
            "controller unplugs",
        ),
        (
            "/usb-unplug-disk",
            Controller::Xhci,
            Target::Disk,
            1,
            "disk unplugs",
        ),
        (
            "/usb-unplug-uhci",
            Controller::Uhci,
            Target::Disk,
            1,
            "disk unplugs on the UHCI",
        ),
    ];
    let runs: Vec<_> = scenarios
        .into_iter()
        .map(|(path, controller, target, check_every, what)| {
            std::thread::Builder::new()
                .name(what.into())
                .spawn(move || {
                    let s = usb_common::boot_on(path, controller)?;
                    let summary = s.unplug_cycles(target, CYCLES, check_every);
                    s.check_after(&summary, what);
                    Ok::<(), String>(())
                })
                .expect("a thread per scenario")
        })
        .collect();
    let mut skipped = None;
    let mut panicked = None;
    for run in runs {
        match run.join() {
            Ok(Ok(())) => {}
            Ok(Err(why)) => skipped = Some(why),
            Err(payload) => panicked = Some(payload),
        }
    }
    if let Some(payload) = panicked {
        std::panic::resume_unwind(payload);
    }
    if let Some(why) = skipped {
        return eprintln!("usb unplug test skipped: {why}");
    }
    assert_eq!(WATCHED.live(), 0, "no xhci-pci allocation left");
    assert_eq!(WATCHED.live_second(), 0, "no usb-storage allocation left");
}

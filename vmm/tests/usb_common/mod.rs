//! What the USB unplug tests share: a `pc` with SeaBIOS booting the
//! stream-mode `usb_boot` sector from `usb-storage` on `xhci-pci`, the
//! image it streams from, and the image it must leave behind.

use qom_devices::chardev::{Capture, CharBackend};
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_test_support::guests::{self, usb_written};
use qom_test_support::seabios::BIOS;
use qom_vmm::{RunState, Vm, VmOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod cycles;
pub use cycles::{Summary, Target};

/// What the boot sector prints once it has checked the disk and written
/// its block, before it streams.
const BOOTED: &str = "USBBOOT ok\n";

/// A disk image file, removed at the end.
pub struct Image(pub PathBuf);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A guest that boots from the USB disk and streams INT 13h reads (and
/// rewrites of LBA 9) from it, under KVM.
pub struct Streaming {
    pub machine: Arc<Machine>,
    pub vm: Vm,
    pub log: Capture,
    pub image: Image,
    pub controller: Controller,
}

impl Streaming {
    /// `device_add` of the disk, as the test plugs it each cycle.
    pub fn disk_spec(&self) -> String {
        disk_spec(self.controller, &self.image)
    }

    /// The checks after the cycles: the guest, which has seen its disk
    /// fail, goes on running its loop (each failed call prints); the image
    /// holds exactly what the guest wrote. Prints what the cycles saw.
    pub fn check_after(&self, summary: &Summary, what: &str) {
        let end = self.log.end();
        assert!(
            wait_until(|| self.log.end() > end, Duration::from_secs(30)),
            "the guest keeps trying after the failures; log since the last cycle: {}",
            self.log.since(end)
        );
        let status = self.vm.status();
        eprintln!(
            "{} {what} in {:.2?} under a streaming guest, each after a fresh boot: {} good INT 13h \
             calls before the unplugs, failure seen and waited for in {} cycles; {status}",
            summary.cycles, summary.elapsed, summary.served_before, summary.failures_seen
        );
        assert_eq!(status, RunState::Running, "the guest keeps running");
        self.image_intact()
            .expect("the image holds exactly what the guest wrote");
    }

    /// Whether the image is what the guest's first write left: the test
    /// disk with LBA 9 written, nothing else changed.
    pub fn image_intact(&self) -> Result<(), String> {
        let mut expected = guests::usb_disk(1)?;
        for i in 0..512 {
            expected[9 * 512 + i] = usb_written(i);
        }
        let now = std::fs::read(&self.image.0).map_err(|e| e.to_string())?;
        let bad: Vec<usize> = (0..expected.len() / 512)
            .filter(|s| now[s * 512..][..512] != expected[s * 512..][..512])
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("sectors changed: {bad:?}"))
        }
    }
}

/// Which controller the disk is on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// `xhci-pci,id=usb0`, bus `usb0.0`.
    Xhci,
    /// The PIIX3's UHCI (`-usb`), bus `usb-bus.0`.
    Uhci,
}

/// The `device_add` of the disk on `controller`.
fn disk_spec(controller: Controller, image: &Image) -> String {
    let bus = match controller {
        Controller::Xhci => "usb0.0",
        Controller::Uhci => "usb-bus.0",
    };
    format!("usb-storage,bus={bus},id=disk0,file={}", image.0.display())
}

/// Starts the machine that boots the streaming guest from the disk on
/// `controller` (the cycles wait for the boot).
pub fn boot_on(path: &str, controller: Controller) -> Result<Streaming, String> {
    qom_vmm::kvm_available().map_err(|e| e.to_string())?;
    let bios =
        std::fs::read(BIOS).map_err(|_| format!("{BIOS} is missing (apt-get install seabios)"))?;
    let disk = guests::usb_disk(1)?;
    let image = Image(std::env::temp_dir().join(format!(
        "qom{}-{}.img",
        path.replace('/', "-"),
        std::process::id()
    )));
    std::fs::write(&image.0, disk).map_err(|e| e.to_string())?;
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: BIOS.into(),
            bytes: bios,
        }),
        debugcon: Some(debugcon),
        usb: controller == Controller::Uhci,
        ..MachineOptions::default()
    };
    let machine = Arc::new(Machine::create_with("pc", path, &options).expect("pc builds"));
    if controller == Controller::Xhci {
        machine.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    }
    machine
        .device_add(&disk_spec(controller, &image))
        .expect("disk plugs");
    let vm = Vm::new(machine.clone(), VmOptions::default()).expect("VM starts");
    Ok(Streaming {
        machine,
        vm,
        log,
        image,
        controller,
    })
}

/// Polls `done` every 50 ms for up to `timeout`; whether it held.
fn wait_until(done: impl Fn() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

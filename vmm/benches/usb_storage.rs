//! Read throughput from a USB disk: the boot sector `usb_boot` in timed
//! mode (SeaBIOS boots it from `usb-storage` on the xHCI controller; it
//! prints "T", reads 16 MiB with INT 13h in 64-sector reads, prints
//! "DONE") under this accelerator with our `xhci-pci` + `usb-storage`,
//! and under QEMU with KVM, `qemu-xhci` + `usb-storage` over the same
//! image. The time is from "T" to "DONE" on the debug console, as the
//! host sees it (polled every millisecond). Each side runs
//! `QOM_BENCH_ROUNDS` times (default 3), alternately; printed: every
//! time, the medians and the ratio QEMU time / our time (above 1: we are
//! faster). Not a timed test.
//!
//! `cargo bench -p qom-vmm --bench usb_storage`

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_vmm::{Vm, VmOptions};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";
/// What the timed loop reads.
const BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// Polls `text` until it has "T\n" after "USBBOOT ok", then "DONE";
/// returns the time between them.
fn time_loop(text: impl Fn() -> String, what: &str) -> Option<Duration> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let guest = || {
        text()
            .split_once("USBBOOT ok\n")
            .map(|(_, g)| g.to_string())
    };
    let mut start = None;
    loop {
        let out = guest().unwrap_or_default();
        if start.is_none() && out.contains("T\n") {
            start = Some(Instant::now());
        }
        if let (Some(t0), Some((timed, _))) = (start, out.split_once("DONE")) {
            if timed.contains('E') {
                eprintln!("{what}: the guest saw read errors: {timed}");
            }
            return Some(t0.elapsed());
        }
        if Instant::now() > deadline {
            eprintln!("{what}: no DONE within 300 s; log: {}", text());
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn ours(image: &str) -> Option<Duration> {
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: SEABIOS.into(),
            bytes: std::fs::read(SEABIOS).ok()?,
        }),
        debugcon: Some(debugcon),
        ..MachineOptions::default()
    };
    let path = format!("/bench-usb-{}", std::process::id());
    let machine = Machine::create_with("pc", &path, &options).expect("pc builds");
    machine.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    machine
        .device_add(&format!("usb-storage,bus=usb0.0,file={image}"))
        .expect("disk plugs");
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let elapsed = time_loop(|| log.text(), "qom");
    drop(vm);
    elapsed
}

fn qemu(image: &str) -> Option<Duration> {
    let log = std::env::temp_dir().join(format!("qom-bench-usb-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "kvm",
            "-M",
            "pc",
            "-nodefaults",
            "-display",
            "none",
        ])
        .args(["-monitor", "none", "-bios", SEABIOS, "-serial", "null"])
        .args([
            "-global",
            "isa-debugcon.iobase=0x402",
            "-global",
            "apic-common.vapic=off",
        ])
        .arg("-debugcon")
        .arg(format!("file:{}", log.display()))
        .args(["-device", "qemu-xhci,id=usb0", "-drive"])
        .arg(format!("file={image},if=none,id=d0,format=raw"))
        .args(["-device", "usb-storage,drive=d0,bus=usb0.0"])
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let elapsed = time_loop(
        || String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned(),
        "QEMU",
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&log);
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mib_s(d: Duration) -> f64 {
    BYTES / d.as_secs_f64() / (1024.0 * 1024.0)
}

fn main() {
    if let Err(e) = qom_vmm::kvm_available() {
        return eprintln!("usb_storage bench skipped: {e}");
    }
    if !std::path::Path::new(SEABIOS).exists() {
        return eprintln!(
            "usb_storage bench skipped: {SEABIOS} is missing (apt-get install seabios)"
        );
    }
    let disk = match qom_test_support::guests::usb_disk(2) {
        Ok(disk) => disk,
        Err(why) => return eprintln!("usb_storage bench skipped: {why}"),
    };
    let image = std::env::temp_dir().join(format!("qom-bench-usb-{}.img", std::process::id()));
    std::fs::write(&image, disk).expect("image written");
    let image_path = image.display().to_string();
    let rounds: usize = std::env::var("QOM_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let have_qemu = Command::new("qemu-system-x86_64")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    let (mut us, mut them) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut run_ours = || us.extend(ours(&image_path));
        let mut run_qemu = || {
            if have_qemu {
                them.extend(qemu(&image_path));
            }
        };
        if round % 2 == 0 {
            run_ours();
            run_qemu();
        } else {
            run_qemu();
            run_ours();
        }
    }
    let _ = std::fs::remove_file(&image);
    let show = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.3}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if us.is_empty() {
        return eprintln!("usb_storage bench: our runs failed");
    }
    let ours_median = median(us.clone());
    println!(
        "16 MiB of INT 13h reads from usb-storage: qom {:.3} s median ({:.1} MiB/s; runs: {} s)",
        ours_median.as_secs_f64(),
        mib_s(ours_median),
        show(&us)
    );
    if them.is_empty() {
        return println!("QEMU not run (qemu-system-x86_64 missing or failed)");
    }
    let theirs = median(them.clone());
    println!(
        "QEMU {:.3} s median ({:.1} MiB/s; runs: {} s); throughput ratio qom/QEMU {:.2}",
        theirs.as_secs_f64(),
        mib_s(theirs),
        show(&them),
        theirs.as_secs_f64() / ours_median.as_secs_f64()
    );
}

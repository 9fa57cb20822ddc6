//! Wall time of the same guests under this accelerator and under QEMU with
//! KVM, in one run, ratio printed (one run each; not a timed test).
//!
//! `cargo bench -p qom-vmm --bench guest`
//!
//! 1. `guests/bar_reader.S` built with BENCH=1: 1,000,000 port reads of
//!    isa-debugcon (0x402), 1,000,000 MMIO reads of the xHCI BAR, exit.
//! 2. SeaBIOS (`bios-256k.bin`) from start to "No bootable device.".
//!
//! QEMU runs as `reference/capture.sh` does, plus, for the first,
//! `-device qemu-xhci -device isa-debug-exit,iobase=0xf4,iosize=4`.

use qom_devices::pc::chardev::CharBackend;
use qom_devices::pc::{Pc, PcConfig};
use qom_vmm::{RunState, Vm, VmOptions};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";

fn ours_guest(bios: Vec<u8>) -> Duration {
    let mut config = PcConfig::new(bios);
    config.debug_exit = true;
    let pc = Pc::new(config, "/bench-guest").expect("pc builds");
    pc.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    let start = Instant::now();
    let vm = Vm::new(Arc::new(pc), VmOptions::default()).expect("VM starts");
    let state = vm.wait_for(Duration::from_secs(600), |s| *s != RunState::Running);
    let elapsed = start.elapsed();
    assert_eq!(
        state,
        RunState::GuestExit(1),
        "the guest read the expected values"
    );
    elapsed
}

fn ours_seabios(bios: Vec<u8>) -> Duration {
    let (debugcon, log) = CharBackend::Null.captured();
    let mut config = PcConfig::new(bios);
    config.usb = true;
    config.debugcon = debugcon;
    let pc = Pc::new(config, "/bench-seabios").expect("pc builds");
    pc.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    let start = Instant::now();
    let _vm = Vm::new(Arc::new(pc), VmOptions::default()).expect("VM starts");
    assert!(log.wait_for("No bootable device.", Duration::from_secs(120)));
    start.elapsed()
}

/// QEMU with `args`, until it exits (`until` is None) or its debugcon log
/// shows `until`.
fn qemu(bios: &str, args: &[&str], until: Option<&str>) -> Option<Duration> {
    let log = std::env::temp_dir().join(format!("qom-bench-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "kvm",
            "-M",
            "pc",
            "-nodefaults",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .args([
            "-bios",
            bios,
            "-serial",
            "null",
            "-global",
            "isa-debugcon.iobase=0x402",
        ])
        .arg("-debugcon")
        .arg(format!("file:{}", log.display()))
        .args(args)
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let elapsed = match until {
        None => {
            child.wait().ok()?;
            start.elapsed()
        }
        Some(pattern) => loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(pattern) {
                break start.elapsed();
            }
            if start.elapsed() > Duration::from_secs(120) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        },
    };
    let _ = child.kill();
    let _ = child.wait();
    Some(elapsed)
}

fn report(what: &str, ours: Duration, theirs: Option<Duration>) {
    match theirs {
        Some(q) => println!(
            "{what}: qom {ours:.2?}, QEMU {q:.2?}, ratio qom/QEMU {:.2}",
            ours.as_secs_f64() / q.as_secs_f64()
        ),
        None => println!("{what}: qom {ours:.2?}; QEMU not run (qemu-system-x86_64 missing)"),
    }
}

fn main() {
    if let Err(e) = qom_vmm::kvm_available() {
        return println!("guest benchmark skipped: {e}");
    }
    let error = env!("QOM_GUESTS_ERROR");
    if !error.is_empty() {
        return println!("guest benchmark skipped: test guests not built: {error}");
    }
    let image = concat!(env!("QOM_GUESTS_DIR"), "/bench.bin");
    let ours = ours_guest(std::fs::read(image).expect("guest image"));
    let theirs = qemu(
        image,
        &[
            "-device",
            "qemu-xhci",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=4",
        ],
        None,
    );
    report("1M PIO + 1M MMIO reads", ours, theirs);
    match std::fs::read(SEABIOS) {
        Ok(bios) => {
            let ours = ours_seabios(bios);
            let theirs = qemu(
                SEABIOS,
                &["-device", "qemu-xhci,id=usb0", "-usb"],
                Some("No bootable device."),
            );
            report("SeaBIOS to 'No bootable device.'", ours, theirs);
        }
        Err(_) => println!("SeaBIOS benchmark skipped: {SEABIOS} missing"),
    }
}

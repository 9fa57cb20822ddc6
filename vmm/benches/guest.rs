//! Wall time of the same guests under this accelerator and under QEMU with
//! KVM, in one run: each workload runs on both, alternately (who goes
//! first alternates too), for a few rounds (`QOM_BENCH_ROUNDS`, default
//! 3), so that a change in the load of a shared machine hits both sides
//! alike. Printed: every time, the ratio of the medians and the ratio of
//! the fastest runs (the least disturbed), and the CPU time each side
//! used in all (user + system, from `/proc`: ours is this process's, the
//! machine built and run in it; QEMU's its children's), which the
//! neighbours' load changes far less than wall time. Not a timed test.
//!
//! `cargo bench -p qom-vmm --bench guest`
//!
//! 1. `test-support/guests/bar_reader.S` built with BENCH=1: 1,000,000 port reads of
//!    isa-debugcon (0x402), 1,000,000 MMIO reads of the xHCI BAR, exit.
//! 2. SeaBIOS (`bios-256k.bin`) from start to "No bootable device.".
//!
//! QEMU runs as `tests/reference/capture.sh` does, plus, for the first,
//! `-device qemu-xhci -device isa-debug-exit,iobase=0xf4,iosize=4`. Each
//! side's time starts before the machine is built (for QEMU, before the
//! process starts) and ends when the guest exits or prints the line.

use qom_devices::chardev::CharBackend;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_vmm::{RunState, Vm, VmOptions};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";

/// The `pc` with `firmware`, an xHCI controller, a debug console (as
/// QEMU's side gets `-debugcon`; the benchmark guest reads its port) and,
/// as asked, the exit port or the UHCI function.
fn machine(firmware: &str, seabios: bool) -> (Machine, Option<qom_devices::chardev::Capture>) {
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: firmware.into(),
            bytes: std::fs::read(firmware).expect("firmware image"),
        }),
        usb: seabios,
        debugcon: Some(debugcon),
        ..MachineOptions::default()
    };
    let path = format!("/bench-{}", std::process::id());
    let machine = Machine::create_with("pc", &path, &options).expect("pc builds");
    if !seabios {
        machine
            .device_add("isa-debug-exit,iobase=0xf4,iosize=4")
            .expect("exit port plugs");
    }
    machine.device_add("xhci-pci,id=usb0").expect("xhci plugs");
    (machine, seabios.then_some(log))
}

fn ours_guest(image: &str) -> Duration {
    let start = Instant::now();
    let (machine, _) = machine(image, false);
    let vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let state = vm.wait_for(Duration::from_secs(600), |s| *s != RunState::Running);
    let elapsed = start.elapsed();
    assert_eq!(
        state,
        RunState::GuestExit(1),
        "the guest read the expected values"
    );
    elapsed
}

fn ours_seabios() -> Duration {
    let start = Instant::now();
    let (machine, log) = machine(SEABIOS, true);
    let _vm = Vm::new(Arc::new(machine), VmOptions::default()).expect("VM starts");
    let log = log.expect("captured");
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
            std::thread::sleep(Duration::from_millis(5));
        },
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&log);
    Some(elapsed)
}

/// CPU time (user + system) used so far by this process, and by its
/// children waited for, from `/proc/self/stat` (fields 14-17, in clock
/// ticks of 1/100 s: Linux's USER_HZ).
fn cpu_times() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name, in parentheses, may hold spaces: count fields
    // after it.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = |i: usize| Duration::from_millis(10 * fields.get(i).copied().unwrap_or(0));
    // After ")": state is field 3, so utime (14) is index 11.
    (ticks(11) + ticks(12), ticks(13) + ticks(14))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs both sides `rounds` times, alternately, and prints each time and
/// the ratios.
fn compare(
    what: &str,
    rounds: usize,
    mut ours: impl FnMut() -> Duration,
    mut theirs: impl FnMut() -> Option<Duration>,
) {
    let (mut us, mut them) = (Vec::new(), Vec::new());
    let (mut our_cpu, mut their_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut run_ours = |us: &mut Vec<Duration>| {
        let (before, _) = cpu_times();
        us.push(ours());
        our_cpu += cpu_times().0 - before;
    };
    let mut run_theirs = |them: &mut Vec<Duration>| {
        let (_, before) = cpu_times();
        them.extend(theirs());
        their_cpu += cpu_times().1 - before;
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            run_ours(&mut us);
            run_theirs(&mut them);
        } else {
            run_theirs(&mut them);
            run_ours(&mut us);
        }
    }
    let list = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ours = median(us.clone());
    if them.is_empty() {
        println!(
            "{what}: qom {ours:.2?} (runs: {} s); QEMU not run (qemu-system-x86_64 missing)",
            list(&us)
        );
        return;
    }
    let theirs = median(them.clone());
    let fastest = |v: &[Duration]| v.iter().min().copied().unwrap_or_default().as_secs_f64();
    println!(
        "{what}: qom {ours:.2?}, QEMU {theirs:.2?} (medians of {rounds}; qom {} s, QEMU {} s), \
         ratio qom/QEMU {:.2} (of the fastest runs: {:.2}); CPU time qom {our_cpu:.2?}, \
         QEMU {their_cpu:.2?}, ratio {:.2}",
        list(&us),
        list(&them),
        ours.as_secs_f64() / theirs.as_secs_f64(),
        fastest(&us) / fastest(&them),
        our_cpu.as_secs_f64() / their_cpu.as_secs_f64()
    );
}

fn main() {
    if let Err(e) = qom_vmm::kvm_available() {
        return println!("guest benchmark skipped: {e}");
    }
    let image = match qom_test_support::guests::path("bench") {
        Ok(path) => path.display().to_string(),
        Err(why) => return println!("guest benchmark skipped: {why}"),
    };
    let rounds = std::env::var("QOM_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    compare(
        "1M PIO + 1M MMIO reads",
        rounds,
        || ours_guest(&image),
        || {
            let exit = "isa-debug-exit,iobase=0xf4,iosize=4";
            qemu(&image, &["-device", "qemu-xhci", "-device", exit], None)
        },
    );
    if std::fs::metadata(SEABIOS).is_err() {
        return println!("SeaBIOS benchmark skipped: {SEABIOS} missing");
    }
    compare(
        "SeaBIOS to 'No bootable device.'",
        rounds,
        ours_seabios,
        || {
            let args = ["-device", "qemu-xhci,id=usb0", "-usb"];
            qemu(SEABIOS, &args, Some("No bootable device."))
        },
    );
}

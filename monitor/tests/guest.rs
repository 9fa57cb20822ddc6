//! Guests under the monitor: the `qom` binary with `-M pc -accel kvm`
//! booting SeaBIOS and comparing its log with QEMU's, the run-state
//! commands and `wait`, and 1,000 `device_del`/`device_add` cycles under a
//! running guest both through the binary and through `Monitor` in process
//! (with a counting allocator). Tests that need KVM print that they were
//! skipped, and why, where `/dev/kvm` is not usable.
#![cfg(not(miri))]

use qom_devices::chardev::CharBackend;
use qom_devices::hw::usb::XhciPci;
use qom_devices::machine::{Firmware, Machine, MachineOptions};
use qom_monitor::Monitor;
use qom_test_support::{guests, seabios, CountingAllocator};
use qom_vmm::{Vm, VmOptions};
use std::alloc::Layout;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Counts live controller allocations (the in-process test's).
#[global_allocator]
static CONTROLLERS: CountingAllocator = CountingAllocator::new(Layout::new::<XhciPci>());

const CYCLES: usize = 1000;

fn qom(args: &[&str], script: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qom runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Why a KVM test cannot run here, after printing that it skipped.
fn skip_without_kvm(test: &str) -> bool {
    match qom_vmm::kvm_available() {
        Ok(()) => false,
        Err(e) => {
            eprintln!("{test} skipped: {e}");
            true
        }
    }
}

/// A register of `info registers`' 32-bit layout (`ESI=0000002a`).
fn register(dump: &str, name: &str) -> u64 {
    let field = dump
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {dump}"));
    u64::from_str_radix(field, 16).unwrap()
}

#[test]
fn seabios_boots_under_qom_as_under_qemu_and_boots_again_after_system_reset() {
    if skip_without_kvm("seabios under qom") {
        return;
    }
    if std::fs::metadata(seabios::BIOS).is_err() {
        return eprintln!(
            "seabios under qom skipped: {} missing (apt-get install seabios)",
            seabios::BIOS
        );
    }
    let log = std::env::temp_dir().join(format!("qom-seabios-{}.log", std::process::id()));
    let debugcon = format!("file:{}", log.display());
    let args = [
        "-M",
        "pc",
        "-accel",
        "kvm",
        "-bios",
        seabios::BIOS,
        "-debugcon",
        &debugcon,
        "-device",
        "xhci-pci,id=usb0",
        "-usb",
    ];
    let o = qom(
        &args,
        "wait debugcon \"No bootable device.\" 60\n\
         info status\n\
         stop\n\
         info status\n\
         cont\n\
         system_reset\n\
         wait debugcon \"No bootable device.\" 60\n\
         info status\n",
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out,
        "VM status: running\nVM status: paused\nVM status: running\n"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(
        log_text.matches("No bootable device.").count(),
        2,
        "two boots"
    );
    let end = "No bootable device.";
    let first_boot = &log_text[..log_text.find(end).unwrap() + end.len()];
    let (ours, qemu) = (
        seabios::compared(first_boot),
        seabios::compared(seabios::REFERENCE),
    );
    eprint!("{}", seabios::side_by_side(&qemu, &ours));
    assert_eq!(ours, qemu);
    let no_vapic = seabios::boot_order(seabios::REFERENCE_NO_VAPIC);
    assert_eq!(seabios::boot_order(first_boot), no_vapic);
}

#[test]
fn run_state_commands_without_a_guest_say_how_to_get_one() {
    let o = qom(&["-M", "pc", "-bios", "/dev/null"], "");
    assert!(
        text(&o.stderr).starts_with("Error: machine `pc`: -bios /dev/null: the image is 0x0 bytes"),
        "{}",
        text(&o.stderr)
    );
    let Ok(bar_reader) = guests::path("bar_reader") else {
        return eprintln!("skipped: no test guest");
    };
    let bios = bar_reader.display().to_string();
    let o = qom(&["-M", "pc", "-bios", &bios, "-c", "info status"], "");
    assert_eq!(
        text(&o.stdout),
        "VM status: no guest (the monitor drives the devices; -accel kvm runs a guest on -M pc)\n"
    );
    for command in ["stop", "cont", "system_reset", "info registers"] {
        let o = qom(&["-M", "pc", "-bios", &bios, "-c", command], "");
        assert_eq!(
            text(&o.stderr),
            "Error: no guest runs on machine `pc`: start qom with -accel kvm (on -M pc)\n",
            "{command}"
        );
        assert!(!o.status.success());
    }
    let o = qom(&["-M", "pc", "-bios", &bios, "-c", "wait debugcon x"], "");
    assert_eq!(
        text(&o.stderr),
        "Error: no console `debugcon`; this machine has: serial\n"
    );
    let o = qom(
        &[
            "-M",
            "pc",
            "-bios",
            &bios,
            "-serial",
            "null",
            "-c",
            "wait serial \"never printed\" 20ms",
        ],
        "",
    );
    assert_eq!(
        text(&o.stderr),
        "Error: wait serial: `never printed` did not appear within 20ms (no guest runs)\n"
    );
    // Boards without a CPU refuse the accelerator, before /dev/kvm is
    // even opened.
    let o = qom(&["-M", "virt", "-accel", "kvm", "-c", "info status"], "");
    assert_eq!(
        text(&o.stderr),
        "Error: machine `virt` has no CPU for KVM to run: -accel kvm needs a board with one (pc)\n"
    );
    assert!(!o.status.success());
}

#[test]
fn a_thousand_unplugs_through_qom_under_a_running_guest() {
    if skip_without_kvm("unplug cycles under qom") {
        return;
    }
    let bios = match guests::path("bar_reader") {
        Ok(path) => path.display().to_string(),
        Err(why) => return eprintln!("unplug cycles under qom skipped: {why}"),
    };
    let args = [
        "-M",
        "pc",
        "-accel",
        "kvm",
        "-bios",
        &bios,
        "-debugcon",
        "null",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=4",
        "-device",
        "xhci-pci,id=usb0",
    ];
    // The guest says when it has read the controller once.
    let mut script = String::from("wait debugcon served 30\n");
    for _ in 0..CYCLES {
        script.push_str("device_del usb0\ndevice_add xhci-pci,id=usb0\n");
    }
    script.push_str("info status\ninfo lifetime\ninfo registers\n");
    let o = qom(&args, &script);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    // The guest never saw a value that was neither the controller's nor
    // all ones: it would have exited through isa-debug-exit.
    assert!(out.starts_with("VM status: running\n"), "{out}");
    // Every controller unplugged was finalized: one is plugged now.
    assert!(
        out.contains(&format!(
            "  xhci-pci             live 1    finalized {CYCLES}\n"
        )),
        "{out}"
    );
    let served = register(&out, "ESI");
    eprintln!(
        "{CYCLES} cycles through qom: {served} reads served, {} unassigned",
        register(&out, "EDI")
    );
    assert!(served > 0, "the guest read the controller");
}

#[test]
fn a_thousand_unplugs_through_the_monitor_in_process_free_every_controller() {
    if skip_without_kvm("unplug cycles through Monitor") {
        return;
    }
    let path = match guests::path("bar_reader") {
        Ok(path) => path,
        Err(why) => return eprintln!("unplug cycles through Monitor skipped: {why}"),
    };
    let (debugcon, log) = CharBackend::Null.captured();
    let options = MachineOptions {
        firmware: Some(Firmware {
            path: path.display().to_string(),
            bytes: std::fs::read(&path).unwrap(),
        }),
        debugcon: Some(debugcon),
        ..MachineOptions::default()
    };
    let machine = Machine::create_with("pc", "/monitor-unplug", &options).unwrap();
    let mut monitor = Monitor::new(machine);
    monitor.add_console("debugcon", log);
    let run = |monitor: &mut Monitor, line: &str| {
        monitor
            .execute(line)
            .unwrap_or_else(|e| panic!("`{line}`: {e}"))
            .0
    };
    run(
        &mut monitor,
        "device_add isa-debug-exit,iobase=0xf4,iosize=4",
    );
    run(&mut monitor, "device_add xhci-pci,id=usb0");
    let vm = Vm::new(monitor.shared_machine(), VmOptions::default()).expect("VM starts");
    monitor.attach_guest(vm);
    run(&mut monitor, "wait debugcon served 30");
    for _ in 0..CYCLES {
        run(&mut monitor, "device_del usb0");
        run(&mut monitor, "device_add xhci-pci,id=usb0");
    }
    assert_eq!(run(&mut monitor, "info status"), "VM status: running\n");
    let dump = run(&mut monitor, "info registers");
    let (served, unassigned) = (register(&dump, "ESI"), register(&dump, "EDI"));
    eprintln!("{CYCLES} cycles through Monitor: {served} reads served, {unassigned} unassigned");
    assert!(served > 0, "the guest read the controller");
    assert_eq!(CONTROLLERS.live(), 1, "only the controller plugged now");
    drop(monitor);
    assert_eq!(CONTROLLERS.live(), 0, "every controller freed");
}

/// QEMU's spelling end to end through `qom`: `-drive ... -device
/// usb-storage,drive=ID`, `-boot menu=on`, and HMP's `sendkey` picking
/// the USB disk from SeaBIOS's boot menu; the boot sector then runs and
/// the monitor deletes the disk under it.
#[test]
fn qom_boots_the_usb_disk_picked_with_sendkey_from_the_boot_menu() {
    if skip_without_kvm("usb boot menu under qom") {
        return;
    }
    if std::fs::metadata(seabios::BIOS).is_err() {
        return eprintln!(
            "usb boot menu under qom skipped: {} missing (apt-get install seabios)",
            seabios::BIOS
        );
    }
    let disk = match guests::usb_disk(0) {
        Ok(disk) => disk,
        Err(why) => return eprintln!("usb boot menu under qom skipped: {why}"),
    };
    let id = std::process::id();
    let image = std::env::temp_dir().join(format!("qom-usb-menu-{id}.img"));
    let log = std::env::temp_dir().join(format!("qom-usb-menu-{id}.log"));
    std::fs::write(&image, disk).unwrap();
    let drive = format!("file={},if=none,id=d0,format=raw", image.display());
    let debugcon = format!("file:{}", log.display());
    let args = [
        "-M",
        "pc",
        "-accel",
        "kvm",
        "-debugcon",
        &debugcon,
        "-boot",
        "menu=on",
        "-drive",
        &drive,
        "-device",
        "xhci-pci,id=usb0",
        "-device",
        "usb-kbd,bus=usb0.0,id=kbd0",
        "-device",
        "usb-storage,bus=usb0.0,drive=d0,id=disk0",
    ];
    let script =
        "wait debugcon \"Press ESC\" 60s\nsendkey esc\nwait debugcon \"Select boot device\"\n\
                  sendkey 1\nwait debugcon \"USBBOOT ok\"\ninfo usb\ndevice_del disk0\ninfo status\n";
    let out = qom(&args, script);
    let written = std::fs::read(&image).unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&image);
    let _ = std::fs::remove_file(&log);
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("VM status: running"),
        "{}",
        text(&out.stdout)
    );
    let menu: Vec<_> = seabios::usb_lines(&log_text)
        .into_iter()
        .filter(|l| l.starts_with("1. ") || l.starts_with("USBBOOT"))
        .collect();
    assert_eq!(
        menu,
        [
            "1. USB MSC Drive QEMU QEMU HARDDISK 2.5+",
            "USBBOOT start",
            "USBBOOT ok"
        ],
        "log:\n{log_text}"
    );
    assert!(
        (0..512).all(|i| written[9 * 512 + i] == guests::usb_written(i)),
        "LBA 9 written"
    );
}

//! The `edu` device hot-plugged from this crate's own monitor, driven as a
//! user would drive the binary: registers read and written with `mmio`,
//! the interrupt seen in the PCI status register, then unplugged.

use std::process::{Command, Output, Stdio};

fn qom_edu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qom-edu"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("qom-edu runs")
}

/// Runs `commands` (one per line, as `-c` takes them) and returns the
/// output, asserting that every command succeeded.
fn run(commands: &[&str]) -> String {
    let o = qom_edu(&["-c", &commands.join(";")]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && stderr.is_empty(), "{stderr}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The first free slot is 1 and BAR 0 goes at the bottom of `virt`'s PCI
/// MMIO window.
const BAR0: u64 = 0x1000_0000;
/// Slot 1's configuration space in `virt`'s ECAM window (highmem, the default).
const CONFIG: u64 = 0x40_1000_0000 + (1 << 15);

fn read(offset: u64) -> String {
    format!("mmio read {:#x} 4", BAR0 + offset)
}

fn write(offset: u64, value: u32) -> String {
    format!("mmio write {:#x} 4 {value:#x}", BAR0 + offset)
}

#[test]
fn the_quick_start_command_lists_the_device() {
    let o = qom_edu(&[
        "-device",
        "edu,id=e0",
        "-c",
        "info pci; qom-list /machine/peripheral/e0",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "  Bus  0, device   0, function 0:\n\
         \x20   Host bridge: PCI device 1b36:0008\n\
         \x20     PCI subsystem 1af4:1100\n\
         \x20     id \"\"\n\
         \x20 Bus  0, device   1, function 0:\n\
         \x20   Class 65280: PCI device 1234:11e8\n\
         \x20     PCI subsystem 1af4:1100\n\
         \x20     IRQ 0, pin A\n\
         \x20     BAR0: 32 bit memory at 0x10000000 [0x100fffff].\n\
         \x20     id \"e0\"\n\
         type (string)\n\
         mmio (child<memory-region>)\n\
         addr (int32)\n\
         bus (string)\n\
         parent_bus (link<bus>)\n\
         realized (bool)\n\
         hotplugged (bool)\n\
         hotpluggable (bool)\n\
         failover_pair_id (str)\n\
         romfile (str)\n\
         romsize (uint32)\n\
         x-pcie-lnksta-dllla (bool)\n\
         rombar (uint32)\n\
         x-pcie-extcap-init (bool)\n\
         acpi-index (uint32)\n\
         multifunction (bool)\n\
         legacy-addr (str)\n"
    );
}

#[test]
fn edu_is_registered_next_to_the_library_devices() {
    let out = run(&["info types edu", "info types xhci-pci"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "edu (parent: pci-device) [interfaces: PropertyGuard, ComputedProperties, MmioOps, Clocked] -- QEMU's educational PCI device (edu)",
            "xhci-pci (parent: pci-device) [interfaces: PropertyGuard, UsbHost, ComputedProperties] -- xHCI USB controller (qemu-xhci)",
        ]
    );
}

#[test]
fn hot_plug_drive_the_registers_and_unplug() {
    let commands = [
        "device_add edu,id=e0".to_string(),
        read(0x00),
        write(0x04, 0x1234_5678),
        read(0x04),
        // Factorial with the completion interrupt enabled.
        write(0x20, 0x80),
        write(0x08, 10),
        read(0x20),
        "clock_step 1000".to_string(),
        read(0x20),
        read(0x08),
        read(0x24),
        // PCI status: Interrupt Status (bit 3) is set.
        format!("mmio read {:#x} 2", CONFIG + 6),
        write(0x64, 0x1),
        read(0x24),
        format!("mmio read {:#x} 2", CONFIG + 6),
        // A raise of our own, then its acknowledgement.
        write(0x60, 0x100),
        read(0x24),
        write(0x64, 0x100),
        "device_del e0".to_string(),
        read(0x00),
        "info qom-tree /machine/peripheral".to_string(),
    ];
    let refs: Vec<&str> = commands.iter().map(String::as_str).collect();
    assert_eq!(
        run(&refs).lines().collect::<Vec<_>>(),
        [
            "0x10000ed",
            "0xedcba987",
            "0x81",
            // The edu and the virt board's two SP804 timers.
            "advanced 3 clocked devices by 1000 ns",
            "0x80",
            "0x375f00",
            "0x1",
            "0x8",
            "0x0",
            "0x0",
            "0x100",
            "0xffffffff",
            "/peripheral (container)",
        ]
    );
}

#[test]
fn commands_on_an_unplugged_id_fail_with_one_line() {
    let o = qom_edu(&["-c", "device_add edu,id=e0; device_del e0; device_del e0"]);
    assert!(!o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "Error: no device with id `e0`\n"
    );
}

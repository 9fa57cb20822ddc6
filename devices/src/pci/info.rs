//! `info pci` (HMP) and `query-pci` (QMP): the functions of bus 0,
//! described once ([`describe`]) and printed as HMP prints them
//! (`hmp_info_pci_device`), for every board's PCI bus.

use super::device::{BarKind, PciDevice};
use qom_rt::prelude::*;
use std::fmt::Write;

/// The functions of a PCI bus, by devfn (slot in bits 3-7, function in
/// 0-2).
pub type PciFunctions = Vec<(u8, Owned<PciDevice>)>;

/// One function of the bus, as `info pci` and `query-pci` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciFunctionInfo {
    /// The slot (bits 3-7 of the devfn).
    pub slot: u8,
    /// The function (bits 0-2 of the devfn).
    pub function: u8,
    /// The 24-bit class code (class, subclass, programming interface).
    pub class_code: u32,
    /// The class name HMP prints (`USB controller`).
    pub class_name: &'static str,
    /// The vendor ID.
    pub vendor_id: u16,
    /// The device ID.
    pub device_id: u16,
    /// Where the function is in the composition tree.
    pub path: String,
    /// Its QOM type.
    pub type_name: &'static str,
    /// Its declared BARs, assigned or not.
    pub bars: Vec<PciBarInfo>,
}

/// One BAR of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciBarInfo {
    /// The BAR index (0-5).
    pub index: usize,
    /// Memory (32 or 64 bit) or I/O.
    pub kind: BarKind,
    /// Where the guest mapped it; `None` while it is unassigned or its
    /// decoding is off in the command register.
    pub address: Option<u64>,
    /// Its size in bytes (a power of two, at least 16).
    pub size: u64,
}

/// Describes each function of `functions`, unassigned BARs included.
///
/// ```
/// let machine = qom_devices::Machine::create_at("virt", "/doc-describe-pci")?;
/// machine.device_add("xhci-pci,id=usb0")?;
/// let functions = qom_devices::pci::describe(&machine.object().pci_functions());
/// let usb = functions.iter().find(|f| f.type_name == "xhci-pci").unwrap();
/// assert_eq!(usb.path, "/doc-describe-pci/peripheral/usb0");
/// assert_eq!(usb.class_name, "USB controller");
/// # Ok::<(), qom_devices::Error>(())
/// ```
pub fn describe(functions: &[(u8, Owned<PciDevice>)]) -> Vec<PciFunctionInfo> {
    functions
        .iter()
        .map(|(devfn, device)| {
            let class = device.pci_class();
            let bars = (0..6)
                .filter_map(|index| {
                    let bar = device.bar(index)?;
                    Some(PciBarInfo {
                        index,
                        kind: bar.kind,
                        address: device.bar_address(index),
                        size: bar.region.size().next_power_of_two().max(16),
                    })
                })
                .collect();
            PciFunctionInfo {
                slot: devfn >> 3,
                function: devfn & 7,
                class_code: class.class_code,
                class_name: class_name(class.class_code),
                vendor_id: class.vendor_id,
                device_id: class.device_id,
                path: device.canonical_path().unwrap_or_default(),
                type_name: device.type_name(),
                bars,
            }
        })
        .collect()
}

/// Each function as QEMU 7.2's HMP `info pci` prints it
/// (`hmp_info_pci_device`): the device number padded to 3, the class
/// name (or `Class NNNN`), IDs, subsystem IDs, the interrupt line and pin
/// when the function has a pin, every BAR (an unassigned one at all
/// ones, QEMU's `PCI_BAR_UNMAPPED`, its end wrapping as QEMU's does) and
/// the device's `id` (empty for a board's own or an anonymous one).
///
/// A PCI-to-PCI bridge (a `pcie-root-port`) shows no subsystem line
/// (a type-1 header has none) but its bus numbers and windows, and the
/// device behind it follows its `id` line, on the bus number its
/// secondary bus register holds, once the guest has programmed it (not
/// 0), as QEMU lists it.
pub fn info_pci(functions: &[(u8, Owned<PciDevice>)]) -> String {
    let mut out = String::new();
    print_functions(&mut out, 0, functions);
    out
}

fn print_functions(out: &mut String, bus: u8, functions: &[(u8, Owned<PciDevice>)]) {
    for ((_, device), f) in functions.iter().zip(describe(functions)) {
        let bridge = device.config_read(0x0e, 1) & 0x7f == 1;
        let _ = writeln!(
            out,
            "  Bus {bus:2}, device {:3}, function {}:",
            f.slot, f.function
        );
        let class = match f.class_name {
            "Device" => format!("Class {:04}", f.class_code >> 8),
            name => name.to_string(),
        };
        let _ = writeln!(
            out,
            "    {class}: PCI device {:04x}:{:04x}",
            f.vendor_id, f.device_id
        );
        if !bridge {
            let _ = writeln!(
                out,
                "      PCI subsystem {:04x}:{:04x}",
                device.config_read(0x2c, 2),
                device.config_read(0x2e, 2)
            );
        }
        let pin = device.config_read(0x3d, 1);
        if pin != 0 {
            let line = device.config_read(0x3c, 1);
            let pin = char::from(b'A' + (pin as u8).wrapping_sub(1) % 26);
            let _ = writeln!(out, "      IRQ {line}, pin {pin}");
        }
        if bridge {
            print_bridge(out, device);
        }
        for bar in &f.bars {
            let (index, size) = (bar.index, bar.size);
            let address = bar.address.unwrap_or(u64::MAX);
            let end = address.wrapping_add(size - 1);
            let _ = match bar.kind {
                BarKind::Io => {
                    writeln!(out, "      BAR{index}: I/O at {address:#06x} [{end:#06x}].")
                }
                BarKind::Memory | BarKind::Memory64 => {
                    let bits = if bar.kind == BarKind::Memory64 {
                        64
                    } else {
                        32
                    };
                    writeln!(
                        out,
                        "      BAR{index}: {bits} bit memory at {address:#010x} [{end:#010x}]."
                    )
                }
            };
        }
        let _ = writeln!(out, "      id \"{}\"", qdev_id(&f.path));
        let behind = device
            .downcast::<super::PcieRootPort>()
            .and_then(super::PcieRootPort::downstream);
        // QEMU's `qmp_query_pci_bridge` lists a bridge's devices only
        // once its secondary bus number is programmed (not 0).
        let secondary = device.config_read(0x19, 1) as u8;
        if let Some(behind) = behind.filter(|_| secondary != 0) {
            print_functions(out, secondary, &[(0, behind)]);
        }
    }
}

/// A bridge's bus numbers and windows, as QEMU's `pci_bridge_get_base`
/// and `pci_bridge_get_limit` compute them from the type-1 header.
fn print_bridge(out: &mut String, device: &PciDevice) {
    let byte = |at: usize| u64::from(device.config_read(at, 1));
    let word = |at: usize| u64::from(device.config_read(at, 2));
    let _ = writeln!(out, "      BUS {}.", byte(0x18));
    let _ = writeln!(out, "      secondary bus {}.", byte(0x19));
    let _ = writeln!(out, "      subordinate bus {}.", byte(0x1a));
    // I/O: 32-bit decoding (low nibble 1) adds the upper 16 bits.
    let io_upper = |bits: u64, at: usize| if byte(0x1c) & 0xf == 1 { word(at) << 16 } else { 0 } | bits;
    let io_base = io_upper((byte(0x1c) & 0xf0) << 8, 0x30);
    let io_limit = io_upper((byte(0x1d) & 0xf0) << 8 | 0xfff, 0x32);
    let _ = writeln!(out, "      IO range [{io_base:#06x}, {io_limit:#06x}]");
    let mem_base = (word(0x20) & 0xfff0) << 16;
    let mem_limit = (word(0x22) & 0xfff0) << 16 | 0xf_ffff;
    let _ = writeln!(
        out,
        "      memory range [{mem_base:#010x}, {mem_limit:#010x}]"
    );
    // Prefetchable: 64-bit decoding (low nibble 1) adds the upper dwords.
    let upper = |at: usize| {
        if word(0x24) & 0xf == 1 {
            u64::from(device.config_read(at, 4)) << 32
        } else {
            0
        }
    };
    let pref_base = (word(0x24) & 0xfff0) << 16 | upper(0x28);
    let pref_limit = (word(0x26) & 0xfff0) << 16 | 0xf_ffff | upper(0x2c);
    let _ = writeln!(
        out,
        "      prefetchable memory range [{pref_base:#010x}, {pref_limit:#010x}]"
    );
}

/// The `id=` a device was plugged with: the last part of its path when it
/// is in a board's `peripheral` container, otherwise none (QEMU's
/// `qdev_id` is empty for board-made and anonymous devices).
pub fn qdev_id(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((parent, id)) if parent.ends_with("/peripheral") => id,
        _ => "",
    }
}

/// The class name HMP prints for a class code (`pci_class_descriptions`).
fn class_name(class_code: u32) -> &'static str {
    match class_code >> 8 {
        0x0c03 => "USB controller",
        0x0601 => "ISA bridge",
        0x0600 => "Host bridge",
        0x0604 => "PCI bridge",
        0x0200 => "Ethernet controller",
        _ => "Device",
    }
}

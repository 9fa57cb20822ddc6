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

/// Each function with its class, IDs, path and BARs, unassigned ones
/// included, as HMP's `info pci` prints them.
pub fn info_pci(functions: &[(u8, Owned<PciDevice>)]) -> String {
    let mut out = String::new();
    for f in describe(functions) {
        let _ = writeln!(
            out,
            "  Bus  0, device {:2}, function {}:",
            f.slot, f.function
        );
        let _ = writeln!(
            out,
            "    {}: PCI device {:04x}:{:04x}",
            f.class_name, f.vendor_id, f.device_id
        );
        let _ = writeln!(out, "      id \"{}\" ({})", f.path, f.type_name);
        for bar in &f.bars {
            let (index, size) = (bar.index, bar.size);
            let kind = match bar.kind {
                BarKind::Memory => "32 bit memory",
                BarKind::Memory64 => "64 bit memory",
                BarKind::Io => "I/O",
            };
            let _ = match bar.address {
                Some(address) => writeln!(
                    out,
                    "      BAR{index}: {kind} at {address:#x} [{:#x}].",
                    address + size - 1
                ),
                None => writeln!(out, "      BAR{index}: unassigned ({size:#x} bytes)."),
            };
        }
    }
    out
}

/// The class name HMP prints for a class code (`pci_class_descriptions`).
fn class_name(class_code: u32) -> &'static str {
    match class_code >> 8 {
        0x0c03 => "USB controller",
        0x0601 => "ISA bridge",
        0x0600 => "Host bridge",
        0x0200 => "Ethernet controller",
        _ => "Device",
    }
}

//! `info pci`: the functions of bus 0, as HMP prints them
//! (`hmp_info_pci_device`), for every board's PCI bus.

use super::device::{BarKind, PciDevice};
use qom_rt::prelude::*;
use std::fmt::Write;

/// The functions of a PCI bus, by devfn (slot in bits 3-7, function in
/// 0-2).
pub type PciFunctions = Vec<(u8, Owned<PciDevice>)>;

/// Each function with its class, IDs, path and BARs, unassigned ones
/// included.
pub fn info_pci(functions: &[(u8, Owned<PciDevice>)]) -> String {
    let mut out = String::new();
    for (devfn, device) in functions {
        let class = device.pci_class();
        let _ = writeln!(
            out,
            "  Bus  0, device {:2}, function {}:",
            devfn >> 3,
            devfn & 7
        );
        let _ = writeln!(
            out,
            "    {}: PCI device {:04x}:{:04x}",
            class_name(class.class_code),
            class.vendor_id,
            class.device_id
        );
        let _ = writeln!(
            out,
            "      id \"{}\" ({})",
            device.canonical_path().unwrap_or_default(),
            device.type_name()
        );
        for index in 0..6 {
            let Some(bar) = device.bar(index) else {
                continue;
            };
            let size = bar.region.size().next_power_of_two().max(16);
            let kind = match bar.kind {
                BarKind::Memory => "32 bit memory",
                BarKind::Memory64 => "64 bit memory",
                BarKind::Io => "I/O",
            };
            let _ = match device.bar_address(index) {
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

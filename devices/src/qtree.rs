//! HMP's `info qtree`: the device tree by bus, as QEMU 7.2 prints it
//! (`qdev_print` / `qbus_print` in `softmmu/qdev-monitor.c`, and
//! `pcibus_dev_print` for the PCI lines).
//!
//! `qom` has no bus objects, so the tree is built from what the board
//! knows: the main system bus holds its PCI host bridge, whose bus holds
//! the PCI functions, and a function that is a USB host has its USB bus.
//! The board's other system-bus devices (UARTs, timers) and the
//! properties a device type adds (beyond `PCIDevice`'s) are not printed
//! yet (see the book's fidelity table).

use crate::pci::{PciDevice, PciSlot};
use crate::usb::UsbHost;
use qom_rt::prelude::*;
use std::fmt::Write;

/// The PCI host bridge as `info qtree` shows it: its type, and its bus's
/// name and type (`pcie.0`, `PCIE` on `virt`; `pci.0`, `PCI` on `pc`).
#[derive(Debug, Clone, Copy)]
pub struct QtreeHost<'a> {
    /// The host bridge's QOM type (`gpex-pcihost`).
    pub type_name: &'a str,
    /// The bus's name (`pcie.0`).
    pub bus_name: &'a str,
    /// The bus's type as QEMU prints it (`PCIE`).
    pub bus_type: &'a str,
}

/// `info qtree` for a board whose PCI host is `host` (none: only the main
/// system bus) with `functions` (by devfn) on its bus, in QEMU's order
/// (the most recently plugged function first, as QEMU's bus lists them).
///
/// ```
/// let machine = qom_devices::Machine::create_at("virt", "/doc-qtree")?;
/// machine.device_add("qemu-xhci,id=usb0")?;
/// let tree = machine.info_qtree();
/// let lines: Vec<_> = tree.lines().collect();
/// assert_eq!(lines[..2], ["bus: main-system-bus", "  type System"]);
/// assert!(lines.contains(&"      dev: qemu-xhci, id \"usb0\""));
/// assert!(lines.contains(&"        addr = 01.0"));
/// assert!(lines.contains(&"        bus: usb0.0"));
/// # Ok::<(), qom_devices::Error>(())
/// ```
pub fn info_qtree(host: Option<QtreeHost<'_>>, functions: &[(u8, Owned<PciDevice>)]) -> String {
    let mut out = String::from("bus: main-system-bus\n  type System\n");
    let Some(host) = host else {
        return out;
    };
    let _ = writeln!(out, "  dev: {}, id \"\"", host.type_name);
    let _ = writeln!(out, "    bus: {}", host.bus_name);
    let _ = writeln!(out, "      type {}", host.bus_type);
    // QEMU's bus keeps its children newest first; slot 0 (the root
    // function) is there from the start, so it comes last.
    let mut ordered: Vec<_> = functions.iter().collect();
    ordered.sort_by_key(|(devfn, _)| std::cmp::Reverse(*devfn));
    for (devfn, function) in ordered {
        print_function(&mut out, *devfn, function);
    }
    out
}

/// One PCI function, at the indentation of a device on the PCI bus.
fn print_function(out: &mut String, devfn: u8, function: &PciDevice) {
    let pad = "        ";
    let id = device_id(function);
    let _ = writeln!(out, "      dev: {}, id \"{id}\"", function.type_name());
    // `PCIDevice`'s qdev properties, in QEMU's order (`pci_props`).
    let _ = writeln!(out, "{pad}addr = {}", PciSlot(Some(devfn >> 3)).slot_text());
    for (name, value) in [
        ("romfile", "\"\"".to_string()),
        ("romsize", hex_int(u64::from(u32::MAX))),
        ("rombar", hex_int(1)),
        ("multifunction", "false".into()),
        ("x-pcie-lnksta-dllla", "true".into()),
        ("x-pcie-extcap-init", "true".into()),
        ("failover_pair_id", "\"\"".into()),
        ("acpi-index", hex_int(0)),
    ] {
        let _ = writeln!(out, "{pad}{name} = {value}");
    }
    let info = crate::pci::describe(&[(devfn, Owned::from(function))]);
    let Some(info) = info.first() else {
        return;
    };
    let _ = writeln!(
        out,
        "{pad}class {}, addr 00:{:02x}.{:x}, pci id {:04x}:{:04x} (sub {:04x}:{:04x})",
        info.class_name,
        info.slot,
        info.function,
        info.vendor_id,
        info.device_id,
        function.config_read(0x2c, 2),
        function.config_read(0x2e, 2),
    );
    for bar in &info.bars {
        // QEMU prints an unmapped BAR at address -1, its end wrapping.
        let address = bar.address.unwrap_or(u64::MAX);
        let kind = if bar.kind.is_memory() { "mem" } else { "i/o" };
        let end = address.wrapping_add(bar.size - 1);
        let _ = writeln!(
            out,
            "{pad}bar {}: {kind} at {address:#x} [{end:#x}]",
            bar.index
        );
    }
    if let Some(host) = function.interface::<dyn UsbHost>() {
        if host.usb_bus().is_some() {
            // QEMU names a device's first bus `ID.0`, or `usb-bus.N`.
            let name = if id.is_empty() {
                "usb-bus.0".to_string()
            } else {
                format!("{id}.0")
            };
            let _ = writeln!(out, "{pad}bus: {name}\n{pad}  type usb-bus");
        }
    }
}

/// A qdev integer as `info qtree` prints it: `4 (0x4)`.
fn hex_int(n: u64) -> String {
    format!("{n} ({n:#x})")
}

/// The device's id: its name under the machine's `peripheral` container,
/// empty elsewhere (QEMU's anonymous devices).
fn device_id(function: &PciDevice) -> String {
    let path = function.canonical_path().unwrap_or_default();
    match path.rsplit_once('/') {
        Some((parent, name)) if parent.ends_with("/peripheral") => name.to_string(),
        _ => String::new(),
    }
}

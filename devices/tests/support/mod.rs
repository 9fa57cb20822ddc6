//! What the xHCI tests read and write through BAR 0 to tell a live
//! controller from a dead one: `HCSPARAMS1`, whose `MaxPorts` comes from
//! the device's `num-ports` and `p2` properties, and `DCBAAP`, an
//! operational register the test writes and reads back.

use qom_devices::models::xhci::{self, MAX_INTRS, MAX_SLOTS};
use qom_devices::pci::PciDevice;
use qom_devices::Device;
use qom_rt::prelude::*;

/// `HCSPARAMS1` in BAR 0.
pub const HCSPARAMS1: u64 = xhci::HCSPARAMS1;
/// `DCBAAP` (low dword) in BAR 0: writable, bits 31:6.
pub const DCBAAP: u64 = xhci::OPER_BASE + xhci::DCBAAP;
/// What a 4-byte read returns where nothing answers.
pub const UNASSIGNED: u64 = 0xffff_ffff;

/// `HCSPARAMS1` of a controller with `max_ports` root ports: `MaxPorts`
/// in bits 31:24, `MaxIntrs` in 18:8, `MaxSlots` in 7:0 (xHCI 1.2,
/// 5.3.3).
pub const fn hcsparams1(max_ports: u64) -> u64 {
    (max_ports << 24) | ((MAX_INTRS as u64) << 8) | MAX_SLOTS as u64
}

/// `HCSPARAMS1` as the live device's properties say it must read: its
/// USB 3 ports (`num-ports`) plus its USB 2 ports (`p2`).
pub fn live_hcsparams1(device: &Device) -> u64 {
    let ports = |name| -> u64 { device.get_property(name).unwrap().parse().unwrap() };
    hcsparams1(ports("num-ports") + ports("p2"))
}

/// Where the device's BAR 0 is mapped.
pub fn bar0(device: &Device) -> u64 {
    device
        .downcast::<PciDevice>()
        .expect("a PCI device")
        .bar_address(0)
        .expect("BAR 0 programmed")
}

//! `pcie-root-port` on `virt`: its configuration space through ECAM as
//! QEMU 7.2 shows it, `bus=` (the root bus, a port's id, an unknown bus),
//! one device behind a port reached at the secondary bus number the
//! guest programs, and plug/unplug behind it.

use qom_devices::machine::Machine;
use qom_devices::pci::{PciDevice, ECAM_HIGH_BASE};
use qom_devices::Error;
use qom_rt::prelude::*;

/// What a read where nothing answers returns (a master abort).
const UNASSIGNED: u64 = 0xffff_ffff;

/// Where a plugged device's BAR 0 is mapped.
fn bar0(device: &qom_devices::Device) -> u64 {
    let pci = device.downcast::<PciDevice>().expect("a PCI device");
    pci.bar_address(0).expect("BAR 0 programmed")
}

fn machine(name: &str) -> Machine {
    let m = Machine::create_at("virt", &format!("/{name}")).expect("machine builds");
    m.device_add("pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=3")
        .expect("root port plugs on pcie.0");
    m
}

/// A dword of configuration space at bus/slot through the ECAM window.
fn config(m: &Machine, bus: u64, slot: u64, reg: u64) -> u64 {
    m.system()
        .read(ECAM_HIGH_BASE + (bus << 20) + (slot << 15) + reg, 4)
}

fn write_config(m: &Machine, bus: u64, slot: u64, reg: u64, value: u64) {
    m.system()
        .write(ECAM_HIGH_BASE + (bus << 20) + (slot << 15) + reg, 4, value);
}

/// The Express capability's offset, walking the capability list.
fn express_cap(m: &Machine, bus: u64, slot: u64) -> u64 {
    let mut at = config(m, bus, slot, 0x34) & 0xff;
    while at >= 0x40 {
        let header = config(m, bus, slot, at);
        if header & 0xff == 0x10 {
            return at;
        }
        at = (header >> 8) & 0xff;
    }
    panic!("no Express capability at {bus:02x}:{slot:02x}.0");
}

#[test]
fn the_port_reads_as_qemus_through_ecam() {
    let m = machine("rp-config");
    // 00:01.0, after gpex-root at 00.0.
    assert_eq!(config(&m, 0, 1, 0x00), 0x000c_1b36, "Red Hat 1b36:000c");
    assert_eq!(config(&m, 0, 1, 0x08), 0x0604_0000, "PCI-to-PCI bridge");
    assert_eq!(config(&m, 0, 1, 0x0c) >> 16 & 0x7f, 1, "type-1 header");
    assert_eq!(config(&m, 0, 1, 0x18), 0, "bus numbers not programmed");
    assert_eq!(config(&m, 0, 1, 0x34) & 0xff, 0x54, "list head: Express");
    assert_eq!(express_cap(&m, 0, 1), 0x54);
    // Version 2, root port (4), slot implemented; next MSI-X at 0x48.
    assert_eq!(config(&m, 0, 1, 0x54), 0x0142_4810);
    assert_eq!(config(&m, 0, 1, 0x48) & 0xffff, 0x4011, "MSI-X, next SSVID");
    assert_eq!(config(&m, 0, 1, 0x40), 0x0d, "SSVID, last");
    // SLTCAP carries slot=3 as the physical slot number; empty slot:
    // powered off, no presence, link down.
    assert_eq!(config(&m, 0, 1, 0x68), 0x0002_007b | 3 << 19);
    assert_eq!(config(&m, 0, 1, 0x6c), 0x0000_07c0);
    assert_eq!(config(&m, 0, 1, 0x64) >> 16, 0x0204);
    // The bus numbers are writable, as firmware programs them.
    write_config(&m, 0, 1, 0x18, 0x0002_0100);
    assert_eq!(config(&m, 0, 1, 0x18), 0x0002_0100);
}

#[test]
fn an_unknown_bus_is_refused_by_name_and_leaves_nothing() {
    let m = machine("rp-nosuch");
    let err = m.device_add("qemu-xhci,bus=nosuch,id=usb0").unwrap_err();
    assert!(
        matches!(err, Error::BusNotFound { ref bus } if bus == "nosuch"),
        "{err}"
    );
    assert_eq!(err.to_string(), "Bus 'nosuch' not found");
    assert!(qom_rt::resolve_path("/rp-nosuch/peripheral/usb0").is_err());
    // Nothing took a slot either: a device still plugs behind the port.
    m.device_add("qemu-xhci,bus=rp0,id=usb0").unwrap();
}

#[test]
fn a_device_behind_the_port_answers_at_the_programmed_secondary_bus() {
    let m = machine("rp-behind");
    let usb = m.device_add("qemu-xhci,bus=rp0,id=usb0").unwrap();
    // Not on the root bus, and not reachable before the guest gives the
    // port a secondary bus number (QEMU: the same).
    assert_eq!(config(&m, 0, 2, 0), UNASSIGNED);
    assert_eq!(config(&m, 1, 0, 0), UNASSIGNED);
    write_config(&m, 0, 1, 0x18, 0x0001_0100);
    assert_eq!(config(&m, 1, 0, 0x00), 0x000d_1b36, "qemu-xhci at 01:00.0");
    assert_eq!(config(&m, 1, 1, 0x00), UNASSIGNED, "slot 0 only");
    assert_eq!(config(&m, 2, 0, 0x00), UNASSIGNED, "nothing further down");
    // Behind a port the function is an endpoint (type 0), not an RCiEP.
    let cap = express_cap(&m, 1, 0);
    assert_eq!(config(&m, 1, 0, cap) >> 20 & 0xf, 0, "endpoint");
    // The slot shows a device: powered, presence detected, link up at
    // the device's 2.5 GT/s x1.
    assert_eq!(config(&m, 0, 1, 0x6c), 0x0040_01c0);
    assert_eq!(config(&m, 0, 1, 0x64) >> 16, 0x2011);
    // ECAM writes reach it: the command register turns decoding off.
    let bar = bar0(&usb);
    assert_ne!(m.system().read(bar, 4), UNASSIGNED, "CAPLENGTH/HCIVERSION");
    write_config(&m, 1, 0, 0x04, 0);
    assert_eq!(m.system().read(bar, 4), UNASSIGNED, "memory decoding off");
    // A second device has no slot.
    let err = m.device_add("qemu-xhci,bus=rp0,id=usb1").unwrap_err();
    assert!(matches!(err, Error::SlotInUse { slot: 0, .. }), "{err}");
    let err = m
        .device_add("qemu-xhci,bus=rp0,addr=1,id=usb2")
        .unwrap_err();
    assert!(err.to_string().contains("slot 0 only"), "{err}");
}

#[test]
fn device_del_behind_the_port_unplugs_and_frees_the_slot() {
    let m = machine("rp-unplug");
    write_config(&m, 0, 1, 0x18, 0x0001_0100);
    let usb = m.device_add("qemu-xhci,bus=rp0,id=usb0").unwrap();
    let bar = bar0(&usb);
    let pci = usb.downcast::<PciDevice>().unwrap();
    assert_eq!(pci.bus.get(), "rp0");
    m.device_del("usb0").unwrap();
    assert!(!usb.is_realized());
    assert_eq!(config(&m, 1, 0, 0), UNASSIGNED, "gone from bus 1");
    assert_eq!(m.system().read(bar, 4), UNASSIGNED, "its BAR unmapped");
    assert_eq!(config(&m, 0, 1, 0x6c), 0x0000_07c0, "slot empty again");
    // An access in flight held the device: the reference taken above
    // still reads its state after it left the tree.
    assert!(usb.canonical_path().is_none());
    // The slot is free for the next device.
    m.device_add("qemu-xhci,bus=rp0,id=usb1").unwrap();
    assert_eq!(config(&m, 1, 0, 0), 0x000d_1b36);
    // The port itself is on pcie.0, which takes no hot-unplug.
    let err = m.device_del("rp0").unwrap_err();
    assert!(matches!(err, Error::NotHotpluggable { .. }), "{err}");
    assert_eq!(config(&m, 1, 0, 0), 0x000d_1b36, "port and device stay");
}

#[test]
fn info_pci_shows_the_port_as_a_bridge_and_its_device_once_numbered() {
    let m = machine("rp-info");
    m.device_add("qemu-xhci,bus=rp0,id=usb0").unwrap();
    let info = m.info_pci();
    assert!(info.contains("    PCI bridge: PCI device 1b36:000c\n      IRQ 0, pin A\n      BUS 0.\n      secondary bus 0.\n"), "{info}");
    assert!(info.contains("      IO range [0xf000, 0x0fff]\n"), "{info}");
    assert!(!info.contains("usb0"), "unnumbered bus: not listed\n{info}");
    write_config(&m, 0, 1, 0x18, 0x0001_0100);
    let info = m.info_pci();
    assert!(
        info.contains("  Bus  1, device   0, function 0:\n    USB controller"),
        "{info}"
    );
}

#[test]
fn pc_has_no_root_ports_and_one_bus() {
    let firmware = qom_devices::machine::Firmware {
        path: "hlt.bin".into(),
        bytes: vec![0xf4; 0x1_0000],
    };
    let options = qom_devices::machine::MachineOptions {
        firmware: Some(firmware),
        ..Default::default()
    };
    let m = Machine::create_with("pc", "/rp-pc", &options).unwrap();
    let err = m.device_add("pcie-root-port,id=rp0").unwrap_err();
    assert!(err.to_string().contains("PCI Express"), "{err}");
    let err = m.device_add("qemu-xhci,bus=pcie.0").unwrap_err();
    assert_eq!(err.to_string(), "Bus 'pcie.0' not found");
    m.device_add("qemu-xhci,bus=pci.0,id=usb0").unwrap();
}

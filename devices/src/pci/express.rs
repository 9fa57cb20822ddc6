//! The PCI Express capability of an endpoint (version 2), as QEMU 7.2's
//! `pcie_endpoint_cap_init` fills it (`hw/pci/pcie.c`): added only when
//! the function sits on a PCI Express bus, so the same device model shows
//! it on `virt` and not on `pc`, as QEMU's `qemu-xhci` does.

use super::config::{reg, ConfigSpace};

/// `PCI_CAP_ID_EXP`.
pub const CAP_ID: u8 = 0x10;
/// The capability's size (`PCI_EXP_VER2_SIZEOF`).
pub const SIZE: usize = 0x3c;

/// `PCI_EXP_TYPE_ENDPOINT`: behind a root port.
pub const TYPE_ENDPOINT: u16 = 0x0;
/// `PCI_EXP_TYPE_RC_END`: a root-complex integrated endpoint, a function
/// on the root bus itself (QEMU picks it for `pcie.0`).
pub const TYPE_RC_END: u16 = 0x9;

/// Adds the capability at `offset`, last in the capability list (QEMU
/// adds it before MSI-X, which links in front of it: the list reads
/// MSI-X, then this), with the reset values and write masks QEMU gives:
/// version 2, the port type, role-based error reporting, a 2.5 GT/s x1
/// link, `DEVCAP2` extended fmt and end-end TLP prefixes.
pub fn add_endpoint_capability(config: &mut ConfigSpace, offset: usize, port_type: u16) {
    config.set(offset, 1, CAP_ID.into());
    config.set(offset + 1, 1, 0);
    config.set(offset + 0x02, 2, u32::from(port_type << 4 | 2)); // PCI_EXP_FLAGS
    config.set(offset + 0x04, 4, 1 << 15); // DEVCAP: role-based errors
    config.set(offset + 0x0c, 4, 0x411); // LNKCAP: 2.5 GT/s, x1, L0s
    config.set(offset + 0x12, 2, 0x11); // LNKSTA: 2.5 GT/s, x1
    config.set(offset + 0x24, 4, 0x30_0000); // DEVCAP2: EFF, EETLPP
                                             // `pcie_cap_v1_fill`/`pcie_cap_init`: the error reporting enables of
                                             // DEVCTL and the TLP prefix blocking of DEVCTL2 are writable.
    config.set_writable(offset + 0x08, 2, 0x000f);
    config.set_writable(offset + 0x28, 2, 0x8000);
    // Link it last: after the device's own capabilities.
    let mut at = reg::CAPABILITIES;
    let mut hops = 0;
    loop {
        let next = config.read(at, 1) as usize;
        // A list pointing back at itself or out of the header ends here.
        if next == 0 || next < 0x40 || hops > 48 {
            break;
        }
        at = next + 1;
        hops += 1;
    }
    config.set(at, 1, offset as u32);
    let status = config.read(reg::STATUS, 2);
    config.set(reg::STATUS, 2, status | 1 << 4); // PCI_STATUS_CAP_LIST
}

/// Whether the function's capability list has a PCI Express capability.
pub fn has_capability(config: &ConfigSpace) -> bool {
    let mut at = config.read(reg::CAPABILITIES, 1) as usize;
    for _ in 0..48 {
        if at < 0x40 {
            return false;
        }
        if config.read(at, 1) == u32::from(CAP_ID) {
            return true;
        }
        at = config.read(at + 1, 1) as usize;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_after_msix_with_qemus_reset_values() {
        let mut config = ConfigSpace::default();
        crate::pci::msix::add_capability(&mut config, 0x90, 16, 0, 0x3000, 0x3800);
        assert!(!has_capability(&config));
        add_endpoint_capability(&mut config, 0xa0, TYPE_RC_END);
        assert!(has_capability(&config));
        assert_eq!(config.read(reg::CAPABILITIES, 1), 0x90);
        assert_eq!(config.read(0x90, 4), 0x000f_a011, "MSI-X, next 0xa0");
        assert_eq!(config.read(0xa0, 4), 0x0092_0010, "Express v2, RCiEP, last");
        assert_eq!(config.read(0xa4, 4), 0x8000);
        assert_eq!(config.read(0xac, 4), 0x411);
        assert_eq!(config.read(0xb0, 4), 0x11 << 16);
        assert_eq!(config.read(0xc4, 4), 0x30_0000);
        config.write(0xa8, 4, 0xffff_ffff);
        assert_eq!(config.read(0xa8, 4), 0xf, "DEVCTL error enables only");
        assert_ne!(config.read(reg::STATUS, 2) & 1 << 4, 0, "capability list");
    }
}

//! `i440FX`: the host bridge function at 00.0 (QEMU
//! `hw/pci-host/i440fx.c`, 8086:1237 revision 2) and its Programmable
//! Attribute Map, which decides whether each BIOS-area segment below 1 MiB
//! reads and writes RAM or the PCI bus (where the BIOS ROM is); QEMU
//! `hw/pci-host/pam.c`.
//!
//! PAM registers 0x59-0x5f: segment 0 (0xf0000, 64 KiB) in the high
//! nibble of 0x59, segments 1-12 (0xc0000 + 16 KiB each) in the low then
//! high nibble of 0x5a-0x5f (`i440fx_update_memory_mappings`). Per nibble:
//! 0 PCI, 1 read RAM / write PCI, 2 write-only, 3 RAM. Each segment has
//! three aliases in system memory at priority 1 and one is enabled at a
//! time, as `pam_update` does. The write-only mode (2), which QEMU builds
//! from a special I/O region, is treated as PCI (reads see the ROM,
//! writes are dropped); SeaBIOS never selects it. The SMRAM window at
//! 0xa0000 always shows the PCI bus (SMRAM closed: the board has no SMM).

use crate::device::DeviceImpl;
use crate::memory::MemoryRegion;
use crate::pci::{PciDevice, PciDeviceImpl};
use qom_rt::prelude::*;

/// First PAM register.
pub const PAM0: usize = 0x59;
/// PAM segments.
pub const PAM_SEGMENTS: usize = 13;
/// SMRAM control register (`I440FX_SMRAM`).
pub const SMRAM: usize = 0x72;
/// The legacy video/SMRAM window.
pub const SMRAM_BASE: u64 = 0xa0000;
/// Its size.
pub const SMRAM_SIZE: u64 = 0x20000;

/// Start and size of PAM segment `index`.
pub fn pam_segment(index: usize) -> (u64, u64) {
    if index == 0 {
        (0xf0000, 0x10000)
    } else {
        (0xc0000 + 0x4000 * (index as u64 - 1), 0x4000)
    }
}

/// The host bridge function (`"i440FX"`).
#[derive(QomObject)]
#[qom(name = "i440FX")]
pub struct I440fx {
    parent: ParentField<PciDevice>,
    /// PAM mode 0 (and 2): the PCI bus shows through.
    #[child(embedded)]
    pub pam_pci: [MemoryRegion; PAM_SEGMENTS],
    /// PAM mode 1: RAM, read-only.
    #[child(embedded)]
    pub pam_rom: [MemoryRegion; PAM_SEGMENTS],
    /// PAM mode 3: RAM.
    #[child(embedded)]
    pub pam_ram: [MemoryRegion; PAM_SEGMENTS],
    /// 0xa0000-0xbffff: the PCI bus (SMRAM closed).
    #[child(embedded)]
    pub smram_region: MemoryRegion,
}

impl ObjectImpl for I440fx {}

impl DeviceImpl for I440fx {
    const DESCRIPTION: &'static str = "i440FX host bridge";

    fn realize(&self) -> Result<(), String> {
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        self.parent.config_init(|config| {
            // No interrupt pin; SMRAM closed with its fixed bits
            // (`i440fx_realize`: config[I440FX_SMRAM] = 0x02).
            config.set(0x3d, 1, 0);
            config.set(SMRAM, 1, 0x02);
            // QEMU's `pci_init_wmask`: the device-specific area is writable.
            for offset in 0x40..0x100 {
                config.set_writable(offset, 1, 0xff);
            }
        });
        Ok(())
    }

    fn reset(&self) {
        self.parent.config_init(|config| {
            for offset in PAM0..PAM0 + 7 {
                config.set(offset, 1, 0);
            }
        });
        self.update_pam();
    }
}

impl PciDeviceImpl for I440fx {
    const VENDOR_ID: u16 = 0x8086;
    const DEVICE_ID: u16 = 0x1237;
    const CLASS_CODE: u32 = 0x06_00_00;
    const REVISION: u8 = 0x02;
}

impl I440fx {
    /// Maps the PAM and SMRAM windows into `system` (priority 1, over
    /// RAM): aliases of `ram` and of `pci_memory`, all showing the PCI bus
    /// until the guest writes the PAM registers.
    pub fn map_windows(
        &self,
        system: &MemoryRegion,
        ram: &MemoryRegion,
        pci_memory: &MemoryRegion,
    ) {
        for index in 0..PAM_SEGMENTS {
            let (start, size) = pam_segment(index);
            self.pam_pci[index].init_alias("pam-pci", pci_memory, start, size, false);
            self.pam_rom[index].init_alias("pam-rom", ram, start, size, true);
            self.pam_ram[index].init_alias("pam-ram", ram, start, size, false);
            for (region, enabled) in [
                (&self.pam_pci[index], true),
                (&self.pam_rom[index], false),
                (&self.pam_ram[index], false),
            ] {
                region.set_enabled(enabled);
                system.add_subregion(start, 1, Owned::from(region));
            }
        }
        self.smram_region
            .init_alias("smram-region", pci_memory, SMRAM_BASE, SMRAM_SIZE, false);
        system.add_subregion(SMRAM_BASE, 1, Owned::from(&self.smram_region));
    }

    /// The PAM mode (0-3) of segment `index`.
    pub fn pam_mode(&self, index: usize) -> u8 {
        let register = self.parent.config_read(PAM0 + index.div_ceil(2), 1) as u8;
        // `pam_update`: even segments use the high nibble.
        let shift = if index & 1 == 0 { 4 } else { 0 };
        (register >> shift) & 3
    }

    /// The bus calls this after every configuration write.
    pub(crate) fn config_written(&self, register: usize, size: usize) {
        if register < PAM0 + 7 && PAM0 < register + size {
            self.update_pam();
        }
    }

    fn update_pam(&self) {
        for index in 0..PAM_SEGMENTS {
            let mode = self.pam_mode(index);
            // Disable before enabling, so no render sees two aliases.
            let wanted = [mode == 0 || mode == 2, mode == 1, mode == 3];
            let regions = [
                &self.pam_pci[index],
                &self.pam_rom[index],
                &self.pam_ram[index],
            ];
            for (region, on) in regions.iter().zip(wanted) {
                if !on {
                    region.set_enabled(false);
                }
            }
            for (region, on) in regions.iter().zip(wanted) {
                if on {
                    region.set_enabled(true);
                }
            }
        }
    }
}

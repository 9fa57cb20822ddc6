//! `piix3-isa`: the PIIX3 PCI-to-ISA bridge function at 01.0 (QEMU
//! `hw/isa/piix3.c`, type `PIIX3`, 8086:7000), a multi-function device
//! whose function 2 is the UHCI controller.
//!
//! Its PIRQ route registers 0x60-0x63 (reset 0x80: routing disabled) map
//! the four PCI interrupt lines to ISA IRQs; SeaBIOS programs them with
//! 10, 10, 11, 11 (`piix_isa_bridge_setup`). The bridge owns the ISA
//! interrupt lines ([`IsaIrqs`]) and routes the PCI lines onto them as
//! QEMU's `piix3_set_irq` does. The ELCR that SeaBIOS writes next (ports
//! 0x4d0/0x4d1) belongs to the in-kernel PIC under KVM. Not modelled: the
//! reset control register at 0xcf9, APM, the other chipset registers
//! beyond their reset values.

use super::isa_irq::{IsaIrqs, PIRQS};
use crate::device::DeviceImpl;
use crate::pci::{PciDevice, PciDeviceImpl};
use qom_rt::prelude::*;

/// PIRQ A route register (`PIIX_PIRQCA`); B-D follow.
pub const PIRQC: usize = 0x60;

/// The ISA bridge function (`"piix3-isa"`).
#[derive(QomObject)]
#[qom(name = "piix3-isa")]
pub struct Piix3Isa {
    parent: ParentField<PciDevice>,
    /// The ISA interrupt lines, with the PCI lines routed onto them.
    pub irqs: IsaIrqs,
}

impl ObjectImpl for Piix3Isa {}

impl DeviceImpl for Piix3Isa {
    const DESCRIPTION: &'static str = "PIIX3 PCI-to-ISA bridge";

    fn realize(&self) -> Result<(), String> {
        <PciDevice as DeviceImpl>::realize(&self.parent)?;
        self.parent.config_init(|config| {
            // Multi-function (bit 7), so firmware probes 01.1-01.7.
            config.set(0x0e, 1, 0x80);
            config.set(0x3d, 1, 0);
            // `pci_init_wmask`: the device-specific area is writable.
            for offset in 0x40..0x100 {
                config.set_writable(offset, 1, 0xff);
            }
        });
        self.reset();
        Ok(())
    }

    /// `piix3_reset`'s register values.
    fn reset(&self) {
        self.parent.config_init(|config| {
            for (offset, value) in [
                (0x04, 0x07),
                (0x07, 0x02),
                (0x4c, 0x4d),
                (0x4e, 0x03),
                (0x60, 0x80),
                (0x61, 0x80),
                (0x62, 0x80),
                (0x63, 0x80),
                (0x69, 0x02),
                (0x70, 0x80),
                (0x76, 0x0c),
                (0x77, 0x0c),
                (0x78, 0x02),
                (0xa0, 0x08),
                (0xa8, 0x0f),
            ] {
                config.set(offset, 1, value);
            }
        });
        self.irqs.set_routes(self.routes());
    }
}

impl PciDeviceImpl for Piix3Isa {
    const VENDOR_ID: u16 = 0x8086;
    const DEVICE_ID: u16 = 0x7000;
    const CLASS_CODE: u32 = 0x06_01_00;
}

impl Piix3Isa {
    /// The route registers 0x60-0x63, PIRQ A first.
    pub fn routes(&self) -> [u8; PIRQS] {
        std::array::from_fn(|pirq| self.parent.config_read(PIRQC + pirq, 1) as u8)
    }

    /// The ISA IRQ PIRQ `pirq` (0-3 for A-D) is routed to: the route
    /// register's value if it is below 16 (`piix3_set_irq_level_internal`
    /// ignores larger values, the reset value 0x80 among them).
    pub fn pirq_route(&self, pirq: usize) -> Option<u8> {
        self.routes().get(pirq).copied().filter(|irq| *irq < 16)
    }

    /// The bus calls this after every configuration write: a write to the
    /// route registers re-routes the PCI lines (`piix3_write_config`).
    pub(crate) fn config_written(&self, register: usize, size: usize) {
        if register < PIRQC + PIRQS && PIRQC < register + size {
            self.irqs.set_routes(self.routes());
        }
    }
}

//! `sp804`: the ARM dual timer on the virtual clock. Register behaviour in
//! [`crate::models::sp804`].

use crate::clock::Clocked;
use crate::device::DeviceImpl;
use crate::irq::IrqLine;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::models::sp804::Sp804Regs;
use crate::sysbus::SysBusDevice;
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;

/// ARM SP804 dual-input timer. Both counters migrate, at version 2 (the
/// sub-tick remainder added; see
/// [`Sp804Timer`](crate::models::sp804::Sp804Timer)), and version 1 loads.
#[derive(QomObject)]
#[qom(name = "sp804", interfaces(MmioOps, Clocked))]
#[migrate(version = 2, min_version = 1)]
pub struct Sp804 {
    parent: ParentField<SysBusDevice>,
    /// The 4 KiB register window.
    #[child(embedded)]
    pub iomem: MemoryRegion,
    #[migrate]
    regs: Sp804Regs,
    /// The combined interrupt output (TIMINTC).
    pub irq: IrqLine,
}

impl ObjectImpl for Sp804 {
    fn init(&self) {
        self.iomem
            .init_io("sp804", 0x1000, Sizes { min: 1, max: 4 }, Sizes::WORD);
    }
}

impl DeviceImpl for Sp804 {
    const DESCRIPTION: &'static str = "ARM SP804 dual timer";

    fn reset(&self) {
        self.regs.reset();
        self.update_irq();
    }
}

/// The interrupt line follows the loaded counters.
impl MigrationHooks for Sp804 {
    fn post_load(&self, _version: u32) {
        self.update_irq();
    }
}

impl Sp804 {
    fn update_irq(&self) {
        self.irq.set(self.regs.irq_level());
    }
}

impl Clocked for Sp804 {
    fn advance(&self, ns: u64) {
        self.regs.advance(ns);
        self.update_irq();
    }
}

impl MmioOps for Sp804 {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        self.regs.read(offset, size)
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        self.regs.write(offset, size, value);
        self.update_irq();
    }
}

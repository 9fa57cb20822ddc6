//! `pl011`: the ARM PrimeCell UART as a system-bus device. The register
//! behaviour is in [`crate::models::pl011`]; this file is the glue.

use crate::device::DeviceImpl;
use crate::irq::IrqLine;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use crate::models::pl011::Pl011Regs;
use crate::sysbus::SysBusDevice;
use qom_rt::migration::MigrationHooks;
use qom_rt::prelude::*;

/// ARM PrimeCell UART (PL011).
///
/// Its state migrates as QEMU's `vmstate_pl011` does, at version 2
/// (`overrun` added; see [`Pl011State`](crate::models::pl011::Pl011State)),
/// and loads version 1.
#[derive(QomObject)]
#[qom(name = "pl011", interfaces(MmioOps))]
#[migrate(version = 2, min_version = 1)]
pub struct Pl011 {
    parent: ParentField<SysBusDevice>,
    /// The 4 KiB register window.
    #[child(embedded)]
    pub iomem: MemoryRegion,
    #[migrate]
    regs: Pl011Regs,
    /// The combined interrupt output (UARTINTR).
    pub irq: IrqLine,
}

impl ObjectImpl for Pl011 {
    fn init(&self) {
        self.iomem.init_io(
            "pl011",
            0x1000,
            Sizes { min: 1, max: 4 },
            Sizes { min: 1, max: 4 },
        );
    }
}

impl DeviceImpl for Pl011 {
    const DESCRIPTION: &'static str = "ARM PrimeCell PL011 UART";

    fn reset(&self) {
        self.regs.reset();
        self.update_irq();
    }
}

/// The interrupt line follows the loaded registers (QEMU migrates the
/// registers, and the line's level is derived from them).
impl MigrationHooks for Pl011 {
    fn post_load(&self, _version: u32) {
        self.update_irq();
    }
}

impl Pl011 {
    fn update_irq(&self) {
        self.irq.set(self.regs.irq_level());
    }

    /// Sends transmitted bytes to `sink` (the character backend).
    pub fn set_output(&self, sink: impl Fn(u8) + Send + Sync + 'static) {
        self.regs.set_backend(Box::new(sink));
    }

    /// A byte arriving on the receive line.
    pub fn receive(&self, byte: u8) {
        self.regs.receive(byte);
        self.update_irq();
    }
}

impl MmioOps for Pl011 {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        let value = self.regs.read(offset, size);
        self.update_irq();
        value
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        self.regs.write(offset, size, value);
        self.update_irq();
    }
}

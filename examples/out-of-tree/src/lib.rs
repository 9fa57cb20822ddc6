//! QEMU's educational PCI device, `edu`, written against qom in a crate
//! of its own, outside the qom workspace: the register file in
//! [`regs`], the QOM glue here.
//!
//! Linking this crate registers the `edu` type (through `inventory`):
//! `device_add edu,id=e0` then works in any monitor of the program, and
//! `src/main.rs` is the `qom` monitor with it linked in.
//!
//! ```
//! use qom_devices::Machine;
//! use qom_edu::{regs::reg, Edu};
//! use qom_rt::prelude::*;
//!
//! let machine = Machine::create_at("virt", "/doc-edu")?;
//! let device = machine.device_add("edu,id=e0")?;
//! let edu = device.downcast::<Edu>().expect("an edu");
//! let bar = edu.upcast::<qom_devices::pci::PciDevice>().bar_address(0).unwrap();
//! assert_eq!(machine.system().read(bar + reg::ID, 4), 0x0100_00ed);
//! # Ok::<(), qom_devices::Error>(())
//! ```

pub mod regs;

// ANCHOR: device
use qom_devices::clock::Clocked;
use qom_devices::memory::{MemoryRegion, MmioOps, Sizes};
use qom_devices::pci::{BarKind, PciBar, PciDevice, PciDeviceImpl};
use qom_devices::DeviceImpl;
use qom_rt::prelude::*;
use regs::EduRegs;
use std::sync::{Mutex, MutexGuard};

/// BAR 0's size: 1 MiB, as QEMU's.
pub const BAR0_SIZE: u64 = 1 << 20;

/// QEMU's `edu` (`"edu"`): identification, liveness check, factorial
/// computation (finished when the virtual clock advances) with a
/// completion interrupt, behind BAR 0.
#[derive(QomObject)]
#[qom(name = "edu", interfaces(MmioOps, Clocked))]
pub struct Edu {
    parent: ParentField<PciDevice>,
    /// BAR 0.
    #[child(embedded)]
    pub mmio: MemoryRegion,
    regs: Mutex<EduRegs>,
}

impl ObjectImpl for Edu {
    fn init(&self) {
        // 32-bit registers; 64-bit accesses reach the model whole (QEMU's
        // DMA registers are 64 bits wide), anything smaller is refused.
        let sizes = Sizes { min: 4, max: 8 };
        self.mmio.init_io("edu-mmio", BAR0_SIZE, sizes, sizes);
    }
}

impl DeviceImpl for Edu {
    const HOTPLUGGABLE: bool = true;
    const DESCRIPTION: &'static str = "QEMU's educational PCI device (edu)";

    // `realize` is inherited from `pci-device`: the configuration header.

    fn reset(&self) {
        *self.regs() = EduRegs::default();
        self.update_irq();
    }
}

impl PciDeviceImpl for Edu {
    const VENDOR_ID: u16 = 0x1234;
    const DEVICE_ID: u16 = 0x11e8;
    const REVISION: u8 = 0x10;
    /// `PCI_CLASS_OTHERS`.
    const CLASS_CODE: u32 = 0xff_0000;

    fn bar(&self, index: usize) -> Option<PciBar<'_>> {
        (index == 0).then_some(PciBar {
            region: &self.mmio,
            kind: BarKind::Memory,
        })
    }
}

impl Edu {
    /// The registers; a panic on another thread does not make them
    /// unusable.
    fn regs(&self) -> MutexGuard<'_, EduRegs> {
        self.regs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drives INTA# from the interrupt status (QEMU's `pci_set_irq`).
    fn update_irq(&self) {
        let level = self.regs().irq_level();
        self.upcast::<PciDevice>().set_irq(level);
    }
}

impl MmioOps for Edu {
    fn mmio_read(&self, _region: &MemoryRegion, offset: u64, size: u32) -> u64 {
        self.regs().read(offset, size)
    }

    fn mmio_write(&self, _region: &MemoryRegion, offset: u64, size: u32, value: u64) {
        self.regs().write(offset, size, value);
        self.update_irq();
    }
}
impl Clocked for Edu {
    fn advance(&self, _ns: u64) {
        self.regs().advance();
        self.update_irq();
    }
}
// ANCHOR_END: device

#[cfg(test)]
mod tests {
    use super::regs::reg;
    use super::*;
    use qom_devices::irq::IrqRecorder;
    use qom_devices::Machine;

    #[test]
    fn the_completion_interrupt_drives_inta_until_acknowledged() {
        let machine = Machine::create_at("virt", "/edu-irq").unwrap();
        let device = machine.device_add("edu,id=e0").unwrap();
        let pci = device.downcast::<PciDevice>().unwrap();
        let line = IrqRecorder::default();
        line.attach(&pci.intx);
        let bar = pci.bar_address(0).unwrap();
        let system = machine.system();

        system.write(bar + reg::STATUS, 4, 0x80);
        system.write(bar + reg::FACTORIAL, 4, 4);
        assert!(!line.level(), "still computing");
        qom_devices::clock::clock_step("/edu-irq", 1_000).unwrap();
        assert_eq!(system.read(bar + reg::FACTORIAL, 4), 24);
        assert!(line.level(), "raised on completion");
        // INTx Disable in the command register masks the pin, not the status.
        let command = pci.config_read(0x04, 2);
        pci.config_write(0x04, 2, command | 1 << 10);
        assert!(!line.level());
        pci.config_write(0x04, 2, command);
        assert!(line.level());
        system.write(bar + reg::IRQ_ACK, 4, 0x1);
        assert!(!line.level(), "lowered by the acknowledgement");
        assert_eq!(line.edges(), 4);

        // Reset (as after realize) clears the registers and the line.
        system.write(bar + reg::IRQ_RAISE, 4, 0x2);
        device.reset();
        assert!(!line.level());
        assert_eq!(system.read(bar + reg::IRQ_STATUS, 4), 0);
    }
}

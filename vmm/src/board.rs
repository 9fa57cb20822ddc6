//! What the accelerator needs from a machine built with the device library.

use qom_devices::AddressSpace;
use std::sync::Arc;

/// A machine the accelerator can run: its two address spaces, its reset,
/// and the two ways its devices reach the accelerator (interrupt lines and
/// guest requests to stop).
pub trait Board: Send + Sync + 'static {
    /// System memory: MMIO exits are dispatched here, and its RAM sections
    /// become memory slots.
    fn system_memory(&self) -> &AddressSpace;
    /// The 64 KiB port-I/O space (QEMU's `system_io`): port exits go here.
    fn system_io(&self) -> &AddressSpace;
    /// Cold reset of every device (`system_reset`).
    fn reset(&self);
    /// Wires the board's interrupt outputs: `set_irq(gsi, level)` drives
    /// an input of the in-kernel PIC/IOAPIC.
    fn connect_irqs(&self, set_irq: Arc<dyn Fn(u32, bool) + Send + Sync>);
    /// Wires the devices that ask the machine to stop (QEMU's
    /// `isa-debug-exit`): `exit(code)` ends the run with `code`.
    fn connect_exit(&self, exit: Arc<dyn Fn(u32) + Send + Sync>);
}

/// The device library's `pc` board.
impl Board for qom_devices::pc::Pc {
    fn system_memory(&self) -> &AddressSpace {
        self.system()
    }

    fn system_io(&self) -> &AddressSpace {
        self.io()
    }

    fn reset(&self) {
        qom_devices::pc::Pc::reset(self);
    }

    fn connect_irqs(&self, set_irq: Arc<dyn Fn(u32, bool) + Send + Sync>) {
        qom_devices::pc::Pc::connect_irqs(self, set_irq);
    }

    fn connect_exit(&self, exit: Arc<dyn Fn(u32) + Send + Sync>) {
        qom_devices::pc::Pc::connect_exit(self, exit);
    }
}

//! `virt-soc`: an SoC embedding arrays of UARTs and timers, mapped into the
//! SoC's own memory container (which the machine maps into system memory).

use crate::device::{Device, DeviceImpl};
use crate::hw::pl011::Pl011;
use crate::hw::sp804::Sp804;
use crate::memory::MemoryRegion;
use crate::sysbus::SysBusDevice;
use qom_rt::prelude::*;

/// Where the UARTs sit (QEMU `virt`: `VIRT_UART0`, `VIRT_SECURE_UART`).
pub const UART_BASES: [u64; 2] = [0x0900_0000, 0x0904_0000];
/// Where the timers sit (in `virt`'s platform-bus area; `virt` has none).
pub const TIMER_BASES: [u64; 2] = [0x0c00_0000, 0x0c01_0000];
/// Size of the SoC's memory container.
pub const SOC_SIZE: u64 = 0x1000_0000;

/// The SoC: two PL011s and two SP804s in one allocation.
#[derive(QomObject)]
#[qom(name = "virt-soc")]
pub struct VirtSoc {
    parent: ParentField<Device>,
    /// The SoC's address space (a container).
    #[child(embedded)]
    pub bus: MemoryRegion,
    /// UART 0 is the console.
    #[child(embedded)]
    pub uarts: [Pl011; 2],
    /// Dual timers on the virtual clock.
    #[child(embedded)]
    pub timers: [Sp804; 2],
}

impl ObjectImpl for VirtSoc {
    fn init(&self) {
        self.bus.init_container("soc", SOC_SIZE);
    }
}

impl DeviceImpl for VirtSoc {
    const DESCRIPTION: &'static str = "SoC with two PL011 UARTs and two SP804 timers";

    fn realize(&self) -> Result<(), String> {
        for (uart, base) in self.uarts.iter().zip(UART_BASES) {
            uart.upcast::<Device>()
                .realize()
                .map_err(|e| e.to_string())?;
            uart.upcast::<SysBusDevice>()
                .mmio_map(&self.bus, &uart.iomem, base);
        }
        for (timer, base) in self.timers.iter().zip(TIMER_BASES) {
            timer
                .upcast::<Device>()
                .realize()
                .map_err(|e| e.to_string())?;
            timer
                .upcast::<SysBusDevice>()
                .mmio_map(&self.bus, &timer.iomem, base);
        }
        Ok(())
    }
}

//! # devices — the device layer and device models for qom
//!
//! The device lifecycle (realize, unrealize, reset, hotplug), memory
//! regions owned by devices and address spaces that dispatch guest
//! accesses while holding a reference on the region's owner, PCI and
//! system buses, and real models: a PL011 UART, an SP804 timer, an xHCI
//! PCI controller embedding its controller state (which owns BAR 0), a
//! PIIX-style south bridge with an owned UHCI companion, and an SoC. The
//! crate denies unchecked code (a lint in its manifest).

pub mod clock;
pub mod device;
pub mod error;
pub mod hotplug;
pub mod hw;
pub mod irq;
pub mod lifetime;
pub mod machine;
pub mod memory;
pub mod models;
pub mod monitor;
pub mod pc;
pub mod pci;
pub mod sysbus;

pub use device::{Device, DeviceClass, DeviceImpl};
pub use error::{Error, Result};
pub use machine::Machine;
pub use memory::{AddressSpace, MemoryRegion, MmioOps};

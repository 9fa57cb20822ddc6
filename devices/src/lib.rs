//! # qom_devices — the device library for qom
//!
//! The device lifecycle (realize, unrealize, reset, hotplug), memory
//! regions owned by devices and address spaces that dispatch guest
//! accesses while holding a reference on the region's owner, PCI and
//! system buses, machines as registered board types, and real models: a
//! PL011 UART, an SP804 timer, an xHCI PCI controller embedding its
//! controller state (which owns BAR 0) with its rings, DMA and MSI-X, USB
//! devices on its bus (a HID keyboard, mass storage over a raw image), a
//! PIIX-style south bridge with an owned UHCI companion, an SoC, and the
//! `virt` and `pc` boards.
//!
//! It has no command line, line editor or graph layout: the `qom` monitor
//! is the `qom-monitor` crate, above this one. The crate forbids unsafe
//! code (a lint in its manifest).
//!
//! ```
//! use qom_devices::Machine;
//!
//! let machine = Machine::create_at("virt", "/doc-lib")?;
//! // PL011 UART 0's PeriphID0, read as a guest would.
//! assert_eq!(machine.system().read(0x0900_0fe0, 4), 0x11);
//! # Ok::<(), qom_devices::Error>(())
//! ```

pub mod chardev;
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
pub mod options;
pub mod pc;
pub mod pci;
pub mod qtree;
pub mod sysbus;
pub mod usb;

pub use device::{Device, DeviceClass, DeviceImpl};
pub use error::{Error, Result};
pub use machine::Machine;
pub use memory::{AddressSpace, MemoryRegion, MmioOps};
pub use options::DeviceOptions;

//! PCI: the abstract PCI device with its configuration space and BARs, the
//! host bridge with its bus of slots, and ECAM configuration access.

mod config;
mod device;
mod dma;
pub mod express;
mod gpex_root;
mod host;
mod info;
pub mod msix;
mod root_port;

pub use config::{reg, ConfigSpace, PciConfig, PciSlot};
pub use device::{BarKind, PciBar, PciDevice, PciDeviceClass, PciDeviceImpl};
pub use dma::{BusMaster, DmaError, MsiSink};
pub use gpex_root::GpexRoot;
pub use host::{
    PciHost, ECAM_BASE, ECAM_HIGH_BASE, ECAM_HIGH_SIZE, ECAM_SIZE, MMIO_BASE, MMIO_HIGH_BASE,
    MMIO_HIGH_SIZE, MMIO_SIZE, PIO_BASE, PIO_SIZE,
};
pub use info::{describe, info_pci, qdev_id, PciBarInfo, PciFunctionInfo, PciFunctions};
pub use root_port::PcieRootPort;

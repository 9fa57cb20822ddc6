//! DMA by a PCI function: reads and writes of guest memory that go
//! through only while the function's bus-master bit is set, as QEMU's
//! `pci_dma_read`/`pci_dma_write` (whose bus-master address space is an
//! alias the command register enables, `hw/pci/pci.c`,
//! `pci_update_mappings`/`pci_set_master`).

use super::config::COMMAND_MASTER;
use super::device::PciDevice;
use crate::memory::{AddressSpace, MemTxError, MemoryRegion};
use qom_rt::prelude::*;
use std::sync::Arc;

/// Sends a message-signalled interrupt: the address and data a function's
/// MSI or MSI-X entry holds (the accelerator injects it).
pub type MsiSink = Arc<dyn Fn(u64, u32) + Send + Sync>;

/// A function's view of the bus while it is plugged: its bus-master
/// address space (QEMU's `bus_master_as`, an alias of the memory the bus
/// decodes) and where its messages go.
#[derive(Clone)]
pub struct BusMaster {
    space: Arc<AddressSpace>,
    msi: Option<MsiSink>,
}

impl BusMaster {
    /// A bus-master view of `memory` (system memory on `pc`), named after
    /// the function, and the machine's MSI sink if it has one.
    pub fn new(function: &str, memory: &MemoryRegion, msi: Option<MsiSink>) -> Self {
        let space = AddressSpace::new(&format!("bus master {function}"), memory.size());
        let alias = Owned::<MemoryRegion>::new();
        alias.init_alias("bus master", memory, 0, memory.size(), false);
        space.root().add_subregion(0, 0, alias);
        BusMaster {
            space: Arc::new(space),
            msi,
        }
    }
}

/// Why a PCI function's DMA did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DmaError {
    /// The guest has not set the bus-master bit (command register bit 2).
    #[error("{device}: DMA at {addr:#x} refused: bus mastering is disabled (COMMAND bit 2 clear)")]
    BusMasterDisabled {
        /// The function.
        device: String,
        /// The address of the transfer.
        addr: u64,
    },
    /// The function is not on a bus (unplugged).
    #[error("{device}: DMA at {addr:#x} refused: the function is not on a bus")]
    NoBus {
        /// The function.
        device: String,
        /// The address of the transfer.
        addr: u64,
    },
    /// Part of the transfer found no memory.
    #[error("{device}: {source}")]
    Memory {
        /// The function.
        device: String,
        /// Where it failed.
        source: MemTxError,
    },
}

impl PciDevice {
    /// Plugs the function's DMA and messages into a bus (`Some`) or
    /// unplugs them (`None`): DMA in flight keeps the old view until it
    /// ends; later DMA fails with [`DmaError::NoBus`].
    pub fn connect_bus(&self, bus: Option<BusMaster>) {
        *self.bus_master.lock().unwrap_or_else(|e| e.into_inner()) = bus;
    }

    fn bus(&self, addr: u64) -> Result<BusMaster, DmaError> {
        self.bus_master
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| DmaError::NoBus {
                device: self.label(),
                addr,
            })
    }

    /// DMA read through the function's own bus-master space.
    pub fn bus_dma_read(&self, addr: u64, buf: &mut [u8]) -> Result<(), DmaError> {
        let bus = self.bus(addr).inspect_err(|_| buf.fill(0xff))?;
        self.dma_read(&bus.space, addr, buf)
    }

    /// DMA write through the function's own bus-master space.
    pub fn bus_dma_write(&self, addr: u64, buf: &[u8]) -> Result<(), DmaError> {
        let bus = self.bus(addr)?;
        self.dma_write(&bus.space, addr, buf)
    }

    /// Sends a message interrupt (`address`, `data`); false if the
    /// function is on no bus or the machine takes no messages. Like DMA,
    /// a message is a bus-master write and needs the bus-master bit.
    pub fn send_msi(&self, address: u64, data: u32) -> bool {
        let Ok(bus) = self.bus(address) else {
            return false;
        };
        match (&bus.msi, self.bus_master_enabled()) {
            (Some(sink), true) => {
                sink(address, data);
                true
            }
            _ => false,
        }
    }

    /// Whether the guest enabled bus mastering.
    pub fn bus_master_enabled(&self) -> bool {
        self.config_read(super::config::reg::COMMAND, 2) as u16 & COMMAND_MASTER != 0
    }

    fn check_master(&self, addr: u64) -> Result<(), DmaError> {
        if self.bus_master_enabled() {
            return Ok(());
        }
        Err(DmaError::BusMasterDisabled {
            device: self.label(),
            addr,
        })
    }

    /// DMA read of `buf.len()` bytes at `addr` in `space` (the bus's view
    /// of memory). Refused, with `buf` filled with `0xff`, while bus
    /// mastering is disabled, as a read of QEMU's disabled bus-master
    /// space returns.
    pub fn dma_read(
        &self,
        space: &AddressSpace,
        addr: u64,
        buf: &mut [u8],
    ) -> Result<(), DmaError> {
        if let Err(e) = self.check_master(addr) {
            buf.fill(0xff);
            return Err(e);
        }
        space
            .read_bytes(addr, buf)
            .map_err(|source| DmaError::Memory {
                device: self.label(),
                source,
            })
    }

    /// DMA write of `buf` at `addr` in `space`; nothing is written while
    /// bus mastering is disabled.
    pub fn dma_write(&self, space: &AddressSpace, addr: u64, buf: &[u8]) -> Result<(), DmaError> {
        self.check_master(addr)?;
        space
            .write_bytes(addr, buf)
            .map_err(|source| DmaError::Memory {
                device: self.label(),
                source,
            })
    }
}

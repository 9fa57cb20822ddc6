//! DMA by a PCI function: reads and writes of guest memory that go
//! through only while the function's bus-master bit is set, as QEMU's
//! `pci_dma_read`/`pci_dma_write` (whose bus-master address space is an
//! alias the command register enables, `hw/pci/pci.c`,
//! `pci_update_mappings`/`pci_set_master`).

use super::config::COMMAND_MASTER;
use super::device::PciDevice;
use crate::memory::{AddressSpace, MemTxError};

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

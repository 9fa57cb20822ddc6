//! Guest memory: regions owned by devices and address spaces that
//! dispatch guest accesses to them, host memory for RAM and ROM, and the
//! listener an accelerator maps that memory through.

mod address_space;
mod dma;
mod flatview;
mod mtree;
mod ram;
mod region;

pub use address_space::{total_unassigned_accesses, AddressSpace, HeldAccess};
pub use dma::MemTxError;
pub use mtree::mtree;
pub use ram::{MemoryListener, RamBlock, RamError, RamSection, PAGE_SIZE};
pub use region::{MemoryRegion, MmioOps, RegionKind, Sizes, Subregion};

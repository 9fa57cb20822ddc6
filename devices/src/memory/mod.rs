//! Guest memory: regions owned by devices and address spaces that
//! dispatch guest accesses to them.

mod address_space;
mod flatview;
mod mtree;
mod region;

pub use address_space::{total_unassigned_accesses, AddressSpace, HeldAccess};
pub use mtree::mtree;
pub use region::{MemoryRegion, MmioOps, RegionKind, Sizes, Subregion};

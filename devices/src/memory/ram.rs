//! Host memory behind RAM and ROM regions, and the listener interface an
//! accelerator implements to map it into the guest.
//!
//! # One memory object for the guest and for device DMA
//!
//! Guest RAM is written by the guest (through the accelerator's host
//! mapping, with no exit) while device models read and write it for DMA on
//! other threads. A `Vec<u8>` shared that way would be a data race, and the
//! device library forbids `unsafe`. So the device library depends on
//! rust-vmm's `vm-memory` and uses its safe API: [`RamBlock`] owns a
//! [`vm_memory::MmapRegion`] (an anonymous mapping) and copies through
//! `VolatileSlice`, the access rust-vmm made for memory another agent
//! changes concurrently. The accelerator takes the same mapping's host
//! address from [`RamBlock::mapping`] for its memory slots: one object,
//! both users, and every `unsafe` stays in the accelerator.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use vm_memory::{MmapRegion, VolatileMemory};

/// Host memory for RAM and ROM regions; cheap to clone (shared).
#[derive(Clone)]
pub struct RamBlock {
    mapping: Arc<MmapRegion<()>>,
    dirty: Arc<DirtyLog>,
}

/// The pages device models wrote ([`RamBlock::write`]) while logging is
/// on: a live migration resends them, as it resends the pages KVM's own
/// dirty log reports for the guest's writes (QEMU's
/// `cpu_physical_memory_set_dirty_range` on DMA).
struct DirtyLog {
    on: AtomicBool,
    /// A bit per 4 KiB page.
    bits: Vec<AtomicU64>,
}

/// Pages of the dirty log.
const DIRTY_PAGE: u64 = 4096;

impl std::fmt::Debug for RamBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RamBlock")
            .field("len", &self.len())
            .finish()
    }
}

/// Host memory could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot allocate {size:#x} bytes of guest memory: {reason}")]
pub struct RamError {
    /// The size asked for.
    pub size: u64,
    /// What the host said.
    pub reason: String,
}

impl RamBlock {
    /// `size` bytes of zeroed host memory (an anonymous mapping; pages are
    /// allocated on first touch, as for QEMU's `pc.ram`).
    pub fn new(size: u64) -> Result<RamBlock, RamError> {
        let error = |reason: String| RamError { size, reason };
        let len = usize::try_from(size).map_err(|e| error(e.to_string()))?;
        if len == 0 {
            return Err(error("a RAM block cannot be empty".into()));
        }
        let mapping = MmapRegion::<()>::new(len).map_err(|e| error(e.to_string()))?;
        let words = size.div_ceil(DIRTY_PAGE).div_ceil(64) as usize;
        Ok(RamBlock {
            mapping: Arc::new(mapping),
            dirty: Arc::new(DirtyLog {
                on: AtomicBool::new(false),
                bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            }),
        })
    }

    /// A block holding a copy of `bytes` (a firmware image).
    pub fn from_bytes(bytes: &[u8]) -> Result<RamBlock, RamError> {
        let block = RamBlock::new(bytes.len() as u64)?;
        block.write(0, bytes);
        Ok(block)
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.mapping.size() as u64
    }

    /// Never true: blocks are not empty (kept for the `len` convention).
    pub fn is_empty(&self) -> bool {
        self.mapping.size() == 0
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`; false (and `buf`
    /// untouched) if the range is outside the block.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> bool {
        match self.slice(offset, buf.len()) {
            Some(slice) => {
                slice.copy_to(buf);
                true
            }
            None => false,
        }
    }

    /// Copies `buf` to `offset`; false (and nothing written) if the range
    /// is outside the block.
    pub fn write(&self, offset: u64, buf: &[u8]) -> bool {
        match self.slice(offset, buf.len()) {
            Some(slice) => {
                slice.copy_from(buf);
                // Acquire: pairs with `set_dirty_log`'s Release, so a
                // write after logging starts is marked.
                if self.dirty.on.load(Ordering::Acquire) && !buf.is_empty() {
                    let last = offset + buf.len() as u64 - 1;
                    for page in offset / DIRTY_PAGE..=last / DIRTY_PAGE {
                        if let Some(word) = self.dirty.bits.get((page / 64) as usize) {
                            word.fetch_or(1 << (page % 64), Ordering::AcqRel);
                        }
                    }
                }
                true
            }
            None => false,
        }
    }

    /// Starts (clearing what was logged) or stops logging the pages
    /// [`write`](Self::write) changes, for a live migration.
    pub fn set_dirty_log(&self, on: bool) {
        for word in &self.dirty.bits {
            word.store(0, Ordering::Relaxed);
        }
        self.dirty.on.store(on, Ordering::Release);
    }

    /// Calls `dirty(offset)` for each 4 KiB page written through
    /// [`write`](Self::write) since logging started or the last call, and
    /// clears them.
    ///
    /// ```
    /// use qom_devices::memory::RamBlock;
    ///
    /// let block = RamBlock::new(0x4000).unwrap();
    /// block.write(0, &[1]);
    /// block.set_dirty_log(true);
    /// block.write(0x2ffe, &[1, 2, 3]);
    /// let mut pages = Vec::new();
    /// block.take_dirty(|offset| pages.push(offset));
    /// assert_eq!(pages, [0x2000, 0x3000]);
    /// block.take_dirty(|offset| pages.push(offset));
    /// assert_eq!(pages.len(), 2);
    /// ```
    pub fn take_dirty(&self, mut dirty: impl FnMut(u64)) {
        for (index, word) in self.dirty.bits.iter().enumerate() {
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let bit = u64::from(bits.trailing_zeros());
                bits &= bits - 1;
                dirty((index as u64 * 64 + bit) * DIRTY_PAGE);
            }
        }
    }

    fn slice(&self, offset: u64, len: usize) -> Option<vm_memory::VolatileSlice<'_, ()>> {
        let offset = usize::try_from(offset).ok()?;
        self.mapping.get_slice(offset, len).ok()
    }

    /// The host mapping, for an accelerator's memory slots.
    pub fn mapping(&self) -> &MmapRegion<()> {
        &self.mapping
    }

    /// Whether both handles share one block.
    pub fn same_block(&self, other: &RamBlock) -> bool {
        Arc::ptr_eq(&self.mapping, &other.mapping)
    }
}

/// A page-aligned stretch of an address space backed by host memory, as
/// an accelerator maps it (QEMU's `MemoryRegionSection` for RAM).
#[derive(Debug, Clone)]
pub struct RamSection {
    /// Guest physical address of the first byte.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// The memory.
    pub block: RamBlock,
    /// Offset of `start` in `block`.
    pub offset: u64,
    /// Guest writes must not reach the memory (ROM, or RAM behind a
    /// read-only alias): the accelerator traps them.
    pub readonly: bool,
}

impl PartialEq for RamSection {
    fn eq(&self, other: &Self) -> bool {
        (self.start, self.size, self.offset, self.readonly)
            == (other.start, other.size, other.offset, other.readonly)
            && self.block.same_block(&other.block)
    }
}

/// Told which host memory an address space maps where (QEMU's
/// `MemoryListener` `region_add`/`region_del`). An accelerator implements
/// it to keep its memory slots equal to the flat view's RAM sections.
///
/// Calls come from the thread that re-renders the view, under the address
/// space's render lock, removals before additions; an implementation must
/// not access the same address space from them.
pub trait MemoryListener: Send + Sync {
    /// `section` is now part of the view.
    fn map(&self, section: &RamSection);
    /// `section` is no longer part of the view.
    fn unmap(&self, section: &RamSection);
}

/// Page size for [`RamSection`]s: ranges not aligned to it are served by
/// the dispatch path instead of a slot.
pub const PAGE_SIZE: u64 = 4096;

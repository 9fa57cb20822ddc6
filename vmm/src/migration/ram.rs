//! Guest RAM in a migration: the machine's RAM blocks (its `Ram`
//! regions, found from the system address space; ROMs are the
//! destination's own firmware and are not sent), pages encoded with zero
//! pages as one byte, and the dirty pages of each block.

use super::format::{BlockInfo, Cursor, PAGE};
use qom_devices::memory::{MemoryRegion, RamBlock, RegionKind};
use qom_devices::Machine;

/// A RAM block of the machine and its name.
pub struct Block {
    /// The stream's name and size for it.
    pub info: BlockInfo,
    /// The memory.
    pub block: RamBlock,
}

/// The machine's RAM blocks, in the order the memory tree lists them.
pub fn blocks(machine: &Machine) -> Vec<Block> {
    fn walk(region: &MemoryRegion, out: &mut Vec<Block>) {
        if region.kind() == RegionKind::Ram {
            if let Some(block) = region.ram_block() {
                if !out.iter().any(|b| b.block.same_block(block)) {
                    out.push(Block {
                        info: BlockInfo {
                            name: region.name().to_string(),
                            size: block.len(),
                        },
                        block: block.clone(),
                    });
                }
            }
        }
        if let Some((target, _)) = region.alias_target() {
            walk(target, out);
        }
        for sub in region.subregions().iter() {
            walk(&sub.region, out);
        }
    }
    let mut out = Vec::new();
    walk(machine.system().root(), &mut out);
    out
}

/// Asks the kernel for transparent huge pages on guest RAM, as QEMU does
/// (`qemu_madvise(QEMU_MADV_HUGEPAGE)` in `ram_block_add`): the guest's
/// TLB misses cost less, and a migration's first pass over memory the
/// guest never touched faults in the huge zero page once per 2 MiB
/// rather than a zero page per 4 KiB. A hint: refused, nothing changes.
pub fn advise_huge_pages(machine: &Machine) {
    for block in blocks(machine) {
        let mapping = block.block.mapping();
        // SAFETY: the range is exactly the block's mapping (its start and
        // size), alive while `block` is held; MADV_HUGEPAGE changes no
        // byte of it and no access right, only how the kernel may back
        // it, so no Rust-visible state changes.
        let result =
            unsafe { libc::madvise(mapping.as_ptr().cast(), mapping.size(), libc::MADV_HUGEPAGE) };
        if result != 0 {
            tracing::debug!(target: "kvm", block = block.info.name, "MADV_HUGEPAGE refused: {}", std::io::Error::last_os_error());
        }
    }
}

/// Checks that the stream's blocks are this machine's.
pub fn check_layout(ours: &[Block], theirs: &[BlockInfo]) -> Result<(), String> {
    let describe = |blocks: Vec<&BlockInfo>| {
        blocks
            .iter()
            .map(|b| format!("{} ({})", b.name, qom_rt::Size(b.size)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ours: Vec<&BlockInfo> = ours.iter().map(|b| &b.info).collect();
    if ours != theirs.iter().collect::<Vec<_>>() {
        return Err(format!(
            "the stream's guest RAM is {}, this machine's is {}: start the destination with the same -m",
            describe(theirs.iter().collect()),
            describe(ours)
        ));
    }
    Ok(())
}

/// Which pages of each block are to be sent.
pub struct DirtyMap {
    /// Per block, a bit per page.
    bits: Vec<Vec<u64>>,
}

impl DirtyMap {
    /// Every page of every block.
    pub fn all(blocks: &[Block]) -> DirtyMap {
        let bits = blocks
            .iter()
            .map(|b| {
                let pages = b.info.size.div_ceil(PAGE as u64) as usize;
                let mut words = vec![u64::MAX; pages.div_ceil(64)];
                if !pages.is_multiple_of(64) {
                    if let Some(last) = words.last_mut() {
                        *last = (1u64 << (pages % 64)) - 1;
                    }
                }
                words
            })
            .collect();
        DirtyMap { bits }
    }

    /// No page.
    pub fn none(blocks: &[Block]) -> DirtyMap {
        let bits = blocks
            .iter()
            .map(|b| vec![0; (b.info.size.div_ceil(PAGE as u64) as usize).div_ceil(64)])
            .collect();
        DirtyMap { bits }
    }

    /// Marks the page at `offset` of `block`, if `block` is one of
    /// `blocks`.
    pub fn mark(&mut self, blocks: &[Block], block: &RamBlock, offset: u64) {
        if let Some(index) = blocks.iter().position(|b| b.block.same_block(block)) {
            let page = (offset / PAGE as u64) as usize;
            if let Some(word) = self.bits[index].get_mut(page / 64) {
                *word |= 1 << (page % 64);
            }
        }
    }

    /// How many pages are marked.
    pub fn count(&self) -> u64 {
        self.bits
            .iter()
            .flatten()
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }

    /// The marked pages, as (block index, page number).
    pub fn pages(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.bits.iter().enumerate().flat_map(|(block, words)| {
            words.iter().enumerate().flat_map(move |(w, &word)| {
                (0..64)
                    .filter(move |bit| word & (1 << bit) != 0)
                    .map(move |bit| (block, (w * 64 + bit) as u32))
            })
        })
    }
}

/// Whether the 4 KiB page at `offset` of `block` holds only zeros, read
/// in place: most of a guest's RAM is zero pages, and copying each out
/// first would double the cost of the first pre-copy pass. `false` for a
/// page outside the block.
pub fn page_is_zero(block: &RamBlock, offset: u64) -> bool {
    let mapping = block.mapping();
    let Ok(start) = usize::try_from(offset) else {
        return false;
    };
    if start
        .checked_add(PAGE)
        .is_none_or(|end| end > mapping.size())
    {
        return false;
    }
    let base = mapping.as_ptr().cast::<u64>();
    // Eight words a step, one branch per 64-byte line.
    (0..PAGE / 64).all(|line| {
        let mut any = 0u64;
        for word in 0..8 {
            // SAFETY: `start + PAGE <= mapping.size()` (checked above),
            // so every word read lies inside the block's mapping, which
            // lives while `block` is borrowed; the mapping is
            // page-aligned and `start` a multiple of `PAGE`, so the
            // `u64`s are aligned. The guest and device models may write
            // the memory meanwhile, so it is read with volatile loads of
            // plain integers (valid for any bits), as vm-memory's own
            // `VolatileSlice` reads it; no reference to the memory is
            // made. A word that changes under the read is caught by the
            // dirty logs and sent again.
            any |= unsafe { base.add(start / 8 + line * 8 + word).read_volatile() };
        }
        any == 0
    })
}

/// What encoding a run of pages produced.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageCounts {
    /// Pages sent with their bytes.
    pub data: u64,
    /// Pages of zeros, sent as one byte.
    pub zero: u64,
}

/// Encodes pages of one block into a pages body.
pub fn encode_pages(
    block_index: usize,
    block: &RamBlock,
    pages: &[u32],
    counts: &mut PageCounts,
) -> Vec<u8> {
    let mut body = Vec::with_capacity(8 + pages.len() * (PAGE + 5));
    body.extend_from_slice(&(block_index as u32).to_le_bytes());
    body.extend_from_slice(&(pages.len() as u32).to_le_bytes());
    let mut buf = [0u8; PAGE];
    for &page in pages {
        body.extend_from_slice(&page.to_le_bytes());
        let offset = u64::from(page) * PAGE as u64;
        // A page past the block cannot be listed (the map is the
        // block's size); it would be sent as zeros.
        if page_is_zero(block, offset) || !block.read(offset, &mut buf) {
            body.push(0);
            counts.zero += 1;
        } else {
            body.push(1);
            body.extend_from_slice(&buf);
            counts.data += 1;
        }
    }
    body
}

/// A checked pages body: each page and its data (`None`: zeros).
pub struct Pages<'a> {
    /// The block's index in the stream's list.
    pub block: usize,
    /// (page number, data) pairs.
    pub pages: Vec<(u32, Option<&'a [u8]>)>,
}

/// Reads a pages body, checking the block and every page number.
pub fn decode_pages<'a>(body: &'a [u8], blocks: &[Block]) -> Result<Pages<'a>, String> {
    let mut cursor = Cursor::new(body, "pages record");
    let block = cursor.u32()? as usize;
    let Some(target) = blocks.get(block) else {
        return Err(format!(
            "a pages record names RAM block {block}; the stream has {}",
            blocks.len()
        ));
    };
    let count = cursor.u32()?;
    let mut pages = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let page = cursor.u32()?;
        if (u64::from(page) + 1) * PAGE as u64 > target.info.size {
            return Err(format!(
                "page {page} is past the end of `{}` ({})",
                target.info.name,
                qom_rt::Size(target.info.size)
            ));
        }
        let data = match cursor.u8()? {
            0 => None,
            1 => Some(cursor.take(PAGE)?),
            kind => {
                return Err(format!(
                    "page {page} of `{}` has kind {kind}, not 0 or 1",
                    target.info.name
                ))
            }
        };
        pages.push((page, data));
    }
    cursor.finish()?;
    Ok(Pages { block, pages })
}

/// Writes checked pages into the blocks.
pub fn apply_pages(pages: &Pages<'_>, blocks: &[Block]) {
    const ZERO: [u8; PAGE] = [0; PAGE];
    let block = &blocks[pages.block].block;
    for &(page, data) in &pages.pages {
        // In range: checked by `decode_pages`.
        let offset = u64::from(page) * PAGE as u64;
        match data {
            Some(data) => {
                block.write(offset, data);
            }
            // A zero page is written only where the page is not zero
            // already (QEMU's `ram_handle_zero`): reading a page never
            // touched maps the kernel's shared zero page, where writing
            // would allocate one, for every page of a fresh destination.
            None => {
                if !page_is_zero(block, offset) {
                    block.write(offset, &ZERO);
                }
            }
        }
    }
}

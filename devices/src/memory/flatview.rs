//! The flattened view of an address space, as QEMU's `FlatView`: the
//! region tree rendered into sorted, non-overlapping ranges, so a guest
//! access is one binary search instead of a walk through containers.
//! Re-rendered after any topology change (a global generation counter).
//! Aliases are resolved while rendering: a range names the terminal region
//! (I/O, RAM or ROM) and the offset in it.

use super::ram::{RamSection, PAGE_SIZE};
use super::region::{MemoryRegion, RegionKind};
use qom_rt::Owned;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped by every `add_subregion`/`remove_subregion`.
static TOPOLOGY: AtomicU64 = AtomicU64::new(1);

/// Marks every rendered view stale.
pub(crate) fn topology_changed() {
    // Release: a thread that sees the new generation sees the new lists.
    TOPOLOGY.fetch_add(1, Ordering::Release);
}

/// The current topology generation.
pub(crate) fn generation() -> u64 {
    TOPOLOGY.load(Ordering::Acquire)
}

/// One terminal region's visible part.
pub(crate) struct FlatRange {
    /// First address covered.
    pub start: u64,
    /// One past the last address covered.
    pub end: u64,
    /// The I/O region (a strong reference: the view keeps its memory).
    pub region: Owned<MemoryRegion>,
    /// Offset inside the region that `start` maps to.
    pub offset_in_region: u64,
    /// Reached through a read-only alias, or ROM: guest writes are dropped.
    pub readonly: bool,
}

/// A rendered address space.
pub(crate) struct FlatView {
    pub generation: u64,
    pub ranges: Vec<FlatRange>,
}

impl FlatView {
    /// Renders the tree under `root`: higher-priority subregions first;
    /// a container claims only what its children cover, so lower-priority
    /// regions show through its holes (QEMU's rule).
    pub fn render(root: &MemoryRegion) -> FlatView {
        let generation = generation();
        let mut ranges = Vec::new();
        render_into(&mut ranges, root, 0, 0, root.size(), false);
        ranges.sort_by_key(|r: &FlatRange| r.start);
        FlatView { generation, ranges }
    }

    /// The range containing `addr`.
    pub fn lookup(&self, addr: u64) -> Option<&FlatRange> {
        let i = self.ranges.partition_point(|r| r.end <= addr);
        self.ranges.get(i).filter(|r| r.start <= addr)
    }

    /// The RAM and ROM ranges an accelerator can map as memory slots:
    /// page-aligned pieces of host memory (others are served by dispatch).
    pub fn ram_sections(&self) -> Vec<RamSection> {
        let mut sections: Vec<RamSection> = Vec::new();
        for range in &self.ranges {
            let Some(block) = range.region.ram_block() else {
                continue;
            };
            let aligned = [range.start, range.end, range.offset_in_region]
                .iter()
                .all(|v| v % PAGE_SIZE == 0);
            if !aligned || !range.region.is_enabled() {
                continue;
            }
            let section = RamSection {
                start: range.start,
                size: range.end - range.start,
                block: block.clone(),
                offset: range.offset_in_region,
                readonly: range.readonly,
            };
            // Ranges split by a region above them that did not claim the
            // whole gap come out adjacent: join what is contiguous.
            if let Some(last) = sections.last_mut() {
                if last.start + last.size == section.start
                    && last.offset + last.size == section.offset
                    && last.readonly == section.readonly
                    && last.block.same_block(&section.block)
                {
                    last.size += section.size;
                    continue;
                }
            }
            sections.push(section);
        }
        sections
    }
}

/// Adds the parts of `region` (placed at `base`, clipped to
/// `[clip_start, clip_end)`) not already claimed. `readonly` is set below
/// a read-only alias.
fn render_into(
    out: &mut Vec<FlatRange>,
    region: &MemoryRegion,
    base: u64,
    clip_start: u64,
    clip_end: u64,
    readonly: bool,
) {
    let start = base.max(clip_start);
    let end = base.saturating_add(region.size()).min(clip_end);
    if start >= end {
        return;
    }
    let readonly = readonly || region.is_readonly();
    // A disabled container, memory or alias leaves the view, so what is
    // below shows through (QEMU's `memory_region_set_enabled`); a disabled
    // I/O region stays and answers unassigned, so its refusals are counted.
    if region.kind() != RegionKind::Io && !region.is_enabled() {
        return;
    }
    match region.kind() {
        RegionKind::Container => {
            for sub in region.subregions().iter() {
                render_into(
                    out,
                    &sub.region,
                    base.saturating_add(sub.offset),
                    start,
                    end,
                    readonly,
                );
            }
        }
        RegionKind::Alias => {
            if let Some((target, offset)) = region.alias_target() {
                // The target's byte `offset` sits at `base`.
                if let Some(target_base) = base.checked_sub(offset) {
                    render_into(out, target, target_base, start, end, readonly);
                }
            }
        }
        RegionKind::Io | RegionKind::Ram | RegionKind::Rom => {
            for (s, e) in unclaimed(out, start, end) {
                out.push(FlatRange {
                    start: s,
                    end: e,
                    region: Owned::from(region),
                    offset_in_region: s - base,
                    readonly,
                });
            }
        }
    }
}

/// The parts of `[start, end)` no range in `claimed` covers.
fn unclaimed(claimed: &[FlatRange], start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut pieces = vec![(start, end)];
    for r in claimed {
        pieces = pieces
            .into_iter()
            .flat_map(|(s, e)| {
                if r.end <= s || e <= r.start {
                    vec![(s, e)]
                } else {
                    [(s, r.start.max(s)), (r.end.min(e), e)]
                        .into_iter()
                        .filter(|(a, b)| a < b)
                        .collect()
                }
            })
            .collect();
    }
    pieces
}

//! The flattened view of an address space, as QEMU's `FlatView`: the
//! region tree rendered into sorted, non-overlapping ranges, so a guest
//! access is one binary search instead of a walk through containers.
//! Re-rendered after any topology change (a global generation counter).

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
        render_into(&mut ranges, root, 0, 0, root.size());
        ranges.sort_by_key(|r: &FlatRange| r.start);
        FlatView { generation, ranges }
    }

    /// The range containing `addr`.
    pub fn lookup(&self, addr: u64) -> Option<&FlatRange> {
        let i = self.ranges.partition_point(|r| r.end <= addr);
        self.ranges.get(i).filter(|r| r.start <= addr)
    }
}

/// Adds the parts of `region` (placed at `base`, clipped to
/// `[clip_start, clip_end)`) not already claimed.
fn render_into(
    out: &mut Vec<FlatRange>,
    region: &MemoryRegion,
    base: u64,
    clip_start: u64,
    clip_end: u64,
) {
    let start = base.max(clip_start);
    let end = base.saturating_add(region.size()).min(clip_end);
    if start >= end {
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
                );
            }
        }
        RegionKind::Io => {
            for (s, e) in unclaimed(out, start, end) {
                out.push(FlatRange {
                    start: s,
                    end: e,
                    region: Owned::from(region),
                    offset_in_region: s - base,
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

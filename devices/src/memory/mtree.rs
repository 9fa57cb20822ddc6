//! `info mtree`: the memory tree printed as HMP does.

use super::{AddressSpace, MemoryRegion, RegionKind};
use std::fmt::Write;

/// Prints address spaces like HMP's `info mtree`:
///
/// ```text
/// address-space: system
///   0000000000000000-ffffffffffffffff (prio 0, container): system
///     0000000009000000-0000000009000fff (prio 0, i/o): pl011
/// ```
pub fn mtree(spaces: &[&AddressSpace]) -> String {
    let mut out = String::new();
    for space in spaces {
        let _ = writeln!(out, "address-space: {}", space.name());
        print_region(&mut out, space.root(), 0, 0, 1);
        out.push('\n');
    }
    out
}

fn print_region(out: &mut String, region: &MemoryRegion, base: u64, priority: i32, depth: usize) {
    let end = base.saturating_add(region.size().saturating_sub(1));
    let kind = match region.kind() {
        RegionKind::Io => "i/o",
        RegionKind::Container => "container",
        RegionKind::Ram => "ram",
        RegionKind::Rom => "rom",
        RegionKind::Alias => "alias",
    };
    let disabled = if region.is_enabled() {
        ""
    } else {
        " [disabled]"
    };
    let _ = writeln!(
        out,
        "{:indent$}{base:016x}-{end:016x} (prio {priority}, {kind}): {}{disabled}",
        "",
        region.name(),
        indent = depth * 2
    );
    for sub in region.subregions().iter() {
        print_region(
            out,
            &sub.region,
            base.saturating_add(sub.offset),
            sub.priority,
            depth + 1,
        );
    }
}

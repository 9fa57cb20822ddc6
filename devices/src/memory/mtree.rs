//! `info mtree`: the memory tree printed as HMP does.

use super::{AddressSpace, MemoryRegion, RegionKind};
use std::fmt::Write;

/// Prints address spaces like QEMU 7.2's HMP `info mtree`
/// (`mtree_print_mr`): one `address-space: NAME` header each (system
/// memory is QEMU's `memory`), then the region tree, subregions in
/// ascending address order (the higher priority first at one address),
/// containers and I/O regions as `i/o`, an alias as `alias NAME @TARGET
/// START-END`:
///
/// ```text
/// address-space: memory
///   0000000000000000-000000ffffffffff (prio 0, i/o): system
///     0000000009000000-0000000009000fff (prio 0, i/o): pl011
///     0000004010000000-000000401fffffff (prio 0, i/o): alias pcie-ecam @pcie-mmcfg-mmio 0000000000000000-000000000fffffff
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
    // QEMU's `memory_region_type`: RAM, ROM, or `i/o` for the rest.
    let kind = match region.kind() {
        RegionKind::Ram => "ram",
        RegionKind::Rom => "rom",
        RegionKind::Io | RegionKind::Container | RegionKind::Alias => "i/o",
    };
    let disabled = if region.is_enabled() {
        ""
    } else {
        " [disabled]"
    };
    let name = match region.alias_target() {
        Some((target, offset)) => format!(
            "alias {} @{} {offset:016x}-{:016x}",
            region.name(),
            target.name(),
            offset.saturating_add(region.size().saturating_sub(1))
        ),
        None => region.name().to_string(),
    };
    let _ = writeln!(
        out,
        "{:indent$}{base:016x}-{end:016x} (prio {priority}, {kind}): {name}{disabled}",
        "",
        indent = depth * 2
    );
    let subregions = region.subregions();
    let mut sorted: Vec<_> = subregions.iter().collect();
    sorted.sort_by(|a, b| a.offset.cmp(&b.offset).then(b.priority.cmp(&a.priority)));
    for sub in sorted {
        print_region(
            out,
            &sub.region,
            base.saturating_add(sub.offset),
            sub.priority,
            depth + 1,
        );
    }
}

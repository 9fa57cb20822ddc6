//! `info ...`, `qom-list`, `device_add TYPE,help` and `graph`: the
//! read-only views of the machine.

use super::{fail, CommandError};
use crate::device::DeviceClass;
use crate::machine::Machine;
use qom_rt::prelude::*;
use qom_rt::ChildEntryKind;
use std::fmt::Write;

pub(super) fn info(machine: &Machine, args: &[&str]) -> Result<String, CommandError> {
    match args {
        ["qom-tree"] => Ok(qom_rt::qom_tree(machine.path())?),
        ["qom-tree", path] => Ok(qom_rt::qom_tree(path)?),
        ["types"] => Ok(types(None)),
        ["types", filter] => Ok(types(Some(filter))),
        ["mtree"] => Ok(machine.info_mtree()),
        ["pci"] => Ok(machine.info_pci()),
        ["lifetime"] => Ok(lifetime(machine)),
        [other, ..] => fail(format!(
            "unknown info subcommand `{other}`; one of: {}",
            super::INFO.join(", ")
        )),
        [] => fail(format!("usage: info {}", super::INFO.join(" | "))),
    }
}

/// `info types [FILTER]`: every registered type, parent and flags.
fn types(filter: Option<&str>) -> String {
    let mut out = String::new();
    for info in qom_rt::types() {
        if filter.is_some_and(|f| !info.name().contains(f)) {
            continue;
        }
        let _ = write!(out, "{}", info.name());
        if let Some(parent) = info.parent() {
            let _ = write!(out, " (parent: {})", parent.name());
        }
        if info.is_abstract() {
            out.push_str(" [abstract]");
        }
        let interfaces = info.interfaces();
        if !interfaces.is_empty() {
            let _ = write!(out, " [interfaces: {}]", interfaces.join(", "));
        }
        out.push('\n');
    }
    out
}

/// `qom-list PATH`: children, then properties, one per line.
pub(super) fn qom_list(path: &str) -> Result<String, CommandError> {
    let object = qom_rt::resolve_path(path)?;
    let mut out = String::new();
    let _ = writeln!(out, "type (string)");
    for child in object.children() {
        let kind = match child.kind {
            ChildEntryKind::Embedded | ChildEntryKind::Owned | ChildEntryKind::Dynamic => "child",
        };
        let _ = writeln!(out, "{} ({kind}<{}>)", child.name, child.type_name);
    }
    for property in object.properties() {
        let _ = writeln!(out, "{} ({})", property.name(), property.type_name());
    }
    Ok(out)
}

/// `device_add TYPE,help`: the type's properties with types, defaults and
/// docs, as QEMU's `-device TYPE,help`.
pub(super) fn device_help(type_name: &str) -> Result<String, CommandError> {
    let info = qom_rt::type_by_name(type_name)?;
    let mut out = format!("{} options:\n", info.name());
    let levels: Vec<_> = info.lineage().collect();
    for level in levels.iter().rev() {
        for p in level.own_properties() {
            let mut line = format!("  {}=<{}>", p.name(), p.type_name());
            if !p.doc().is_empty() || !p.default_text().is_empty() {
                line = format!("{line:<32} -");
                if !p.doc().is_empty() {
                    let _ = write!(line, " {}", p.doc());
                }
                if !p.default_text().is_empty() {
                    let _ = write!(line, " (default: {})", p.default_text());
                }
            }
            let _ = writeln!(out, "{line}");
        }
    }
    Ok(out)
}

/// `info lifetime`: live objects by type (including ones that outlived
/// their place in the tree), the references of each device in the tree,
/// and unassigned-access counters.
fn lifetime(machine: &Machine) -> String {
    let mut out = String::from("live objects by type (devices and memory regions):\n");
    for (name, counts) in crate::lifetime::counts() {
        let _ = writeln!(
            out,
            "  {name:<20} live {:<4} finalized {}",
            counts.live, counts.finalized
        );
    }
    out.push_str("references of devices in the tree (refs / storage refs):\n");
    let mut rows = Vec::new();
    if let Ok(top) = qom_rt::resolve_path(machine.path()) {
        crate::clock::visit(&top, &mut |object| {
            if object.class::<DeviceClass>().is_some() {
                let h = object.header();
                rows.push(format!(
                    "  {:<44} {:>3} / {}",
                    object.canonical_path().unwrap_or_default(),
                    h.ref_count(),
                    h.storage_count()
                ));
            }
        });
    }
    for row in rows {
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(
        out,
        "unassigned accesses: {} (system memory: {})",
        crate::memory::total_unassigned_accesses(),
        machine.system().unassigned_accesses()
    );
    out
}

pub(super) fn graph(machine: &Machine, args: &[&str]) -> Result<String, CommandError> {
    let _ = (machine, args);
    fail("graph: the object-graph renderer is not available in this build yet")
}

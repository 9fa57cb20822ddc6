//! `info ...`, `qom-list`, `device_add TYPE,help` and `graph`: the
//! read-only views of the machine.

use super::{fail, CommandError};
use crate::device::DeviceClass;
use crate::machine::Machine;
use qom_rt::prelude::*;
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

/// `info types [FILTER]`: every registered type, parent, flags and, for
/// devices, description.
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
        // A device's one-line description (`DeviceImpl::DESCRIPTION`), as
        // QEMU's `-device help` prints `desc "..."`.
        match info.class::<DeviceClass>() {
            Some(class) if !class.description.is_empty() => {
                let _ = write!(out, " -- {}", class.description);
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

/// `qom-list PATH`: one line per child (`child<T>`), link (`link<T>`)
/// and property, `name (type)`, as HMP prints it.
pub(super) fn qom_list(path: &str) -> Result<String, CommandError> {
    Ok(qom_rt::format_qom_list(&qom_rt::qom_list(path)?))
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

/// `graph [PATH] [--dot FILE | --svg FILE]`: the object graph under PATH
/// (default: the machine) as Graphviz DOT, printed or written to FILE, or
/// laid out as SVG without a system Graphviz (`layout-rs`).
pub(super) fn graph(machine: &Machine, args: &[&str]) -> Result<String, CommandError> {
    let (path, output) = match args {
        [] => (machine.path(), None),
        [path] if !path.starts_with("--") => (*path, None),
        [flag, file] => (machine.path(), Some((*flag, *file))),
        [path, flag, file] => (*path, Some((*flag, *file))),
        _ => return fail("usage: graph [PATH] [--dot FILE | --svg FILE]"),
    };
    let dot = qom_rt::graph_dot(path)?;
    let (text, file) = match output {
        None => return Ok(dot),
        Some(("--dot", file)) => (dot, file),
        Some(("--svg", file)) => (render_svg(&dot)?, file),
        Some((flag, _)) => {
            return fail(format!(
                "unknown graph option `{flag}`; use --dot FILE or --svg FILE"
            ))
        }
    };
    std::fs::write(file, &text).map_err(|e| CommandError(format!("cannot write `{file}`: {e}")))?;
    Ok(format!("wrote {} bytes to {file}\n", text.len()))
}

/// How each edge class looks in the SVG. `layout-rs` draws only `color`
/// (an SVG colour name), `penwidth` and `style=dashed`, so the DOT styles
/// meant for Graphviz are translated.
const SVG_EDGE_STYLES: &[(&str, &str)] = &[
    ("embedded", "color=black"),
    ("owned", "color=purple, penwidth=2"),
    ("dynamic", "color=blue, penwidth=2"),
    ("link", "color=darkgreen, style=dashed"),
    ("storage", "color=orange, style=dashed"),
];

/// Rewrites each edge's attributes for `layout-rs`, keeping its label.
fn svg_friendly(dot: &str) -> String {
    dot.lines()
        .map(|line| {
            let Some((edge, attrs)) = line.split_once(" [class=") else {
                return line.to_string();
            };
            let class = attrs.split([',', ']']).next().unwrap_or_default();
            let style = SVG_EDGE_STYLES
                .iter()
                .find(|(c, _)| *c == class)
                .map_or("", |(_, s)| s);
            let label = attrs
                .split_once("label=")
                .map(|(_, l)| format!(", label={}", l.trim_end_matches("];")))
                .unwrap_or_default();
            format!("{edge} [{style}{label}];")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lays out DOT as SVG with `layout-rs` (no system Graphviz needed);
/// embedded, owned, dynamic, link and storage edges differ in colour,
/// width and dashing.
pub fn render_svg(dot: &str) -> Result<String, CommandError> {
    let dot = svg_friendly(dot);
    let mut parser = layout::gv::DotParser::new(&dot);
    let graph = parser
        .process()
        .map_err(|e| CommandError(format!("graph: cannot parse the DOT: {e}")))?;
    // The layout crate asserts on shapes it cannot place; report that as
    // a failed command rather than taking the monitor down.
    std::panic::catch_unwind(move || {
        let mut builder = layout::gv::GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut svg = layout::backends::svg::SVGWriter::new();
        visual.do_it(false, false, false, &mut svg);
        svg.finalize()
    })
    .map_err(|_| CommandError("graph: the SVG layout failed for this graph".into()))
}

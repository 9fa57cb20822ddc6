//! `graph`: the object graph as Graphviz DOT, or laid out as SVG
//! in-process with `layout-rs` (no system Graphviz needed).

use super::{fail, Failure};
use crate::monitor::{CommandError, Monitor};

/// `graph [PATH] [--dot FILE | --svg FILE]`: the object graph under PATH
/// (default: the machine) as Graphviz DOT, printed or written to FILE, or
/// laid out as SVG without a system Graphviz (`layout-rs`).
pub(super) fn graph(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let machine = monitor.machine().path();
    let (path, output) = match args {
        [] => (machine, None),
        [path] if !path.starts_with("--") => (*path, None),
        [flag, file] => (machine, Some((*flag, *file))),
        [path, flag, file] => (*path, Some((*flag, *file))),
        _ => return Err(Failure::Usage),
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
    if let Err(e) = std::fs::write(file, &text) {
        return fail(format!("cannot write `{file}`: {e}"));
    }
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
fn render_svg(dot: &str) -> Result<String, CommandError> {
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

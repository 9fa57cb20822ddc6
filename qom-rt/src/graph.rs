//! The object graph as a picture: a subtree of the composition tree in
//! Graphviz DOT, with every kind of reference drawn in its own style.

use crate::error::Result;
use crate::kernel::link_targets::{targets_read, Targets};
use crate::kernel::tree_links::HeaderPtr;
use crate::kernel::walk::Walk;
use crate::link::cell_at;
use crate::property::field_ptr;
use crate::tree::{self, ChildEntryKind};
use std::collections::HashMap;
use std::fmt::Write;

/// The kinds of edge [`graph_dot`] draws; each edge carries its kind as
/// its `class` attribute.
const EDGE_STYLES: [(EdgeKind, &str, &str); 5] = [
    (
        EdgeKind::Embedded,
        "embedded",
        "style=solid, dir=both, arrowtail=diamond",
    ),
    (EdgeKind::Owned, "owned", "style=bold"),
    (EdgeKind::Dynamic, "dynamic", "style=bold, color=blue"),
    (EdgeKind::Link, "link", "style=dashed, color=darkgreen"),
    (
        EdgeKind::Storage,
        "storage",
        "style=dotted, arrowhead=empty, color=gray40, constraint=false",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    Embedded,
    Owned,
    Dynamic,
    Link,
    Storage,
}

impl EdgeKind {
    fn style(self) -> (&'static str, &'static str) {
        let (_, class, style) = EDGE_STYLES
            .iter()
            .find(|(k, _, _)| *k == self)
            .copied()
            .unwrap_or((self, "", ""));
        (class, style)
    }
}

/// Renders the subtree at an absolute `path` as a Graphviz DOT digraph
/// (`dot -Tsvg`), one node per object, named by its canonical path and
/// labelled with its name and type, and one edge per reference:
///
/// | class      | from -> to                     | style                      |
/// |------------|--------------------------------|----------------------------|
/// | `embedded` | container -> embedded child    | solid, diamond at the tail |
/// | `owned`    | owner -> `#[child(owned)]`     | bold                       |
/// | `dynamic`  | parent -> `add_child` child    | bold, blue                 |
/// | `link`     | object -> its `Link` target    | dashed, green              |
/// | `storage`  | declared child -> container    | dotted, hollow arrow       |
///
/// A `storage` edge is the storage reference a declared (embedded or
/// owned) child holds on its container's memory until its own finalize
/// ends. Link targets outside the subtree are drawn as
/// dashed nodes. Edges carry the child or link name as their label.
///
/// ```
/// use qom_rt::prelude::*;
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-graph-leaf")]
/// struct Leaf { parent: ParentField<Object> }
/// impl ObjectImpl for Leaf {}
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-graph-board")]
/// struct Board {
///     parent: ParentField<Object>,
///     #[child(embedded)]
///     uart: Leaf,
/// }
/// impl ObjectImpl for Board {}
///
/// qom_rt::container("/doc-graph").unwrap().add_child("b", Owned::<Board>::new()).unwrap();
/// let dot = qom_rt::graph_dot("/doc-graph/b").unwrap();
/// assert!(dot.starts_with("digraph qom {\n"));
/// assert!(dot.contains(r#""/doc-graph/b" -> "/doc-graph/b/uart" [class=embedded"#));
/// assert!(dot.contains(r#""/doc-graph/b/uart" -> "/doc-graph/b" [class=storage"#));
/// ```
pub fn graph_dot(path: &str) -> Result<String> {
    let components = tree::absolute_components(path)?;
    let mut walk = Walk::new();
    // Lock order: the tree, then the link targets (as `release_links`).
    walk.links();
    let top = walk.follow(tree::root_header(), &components, path)?;
    let targets = targets_read();
    let mut graph = Graph {
        walk: &mut walk,
        targets: &targets,
        ids: HashMap::new(),
        nodes: String::new(),
        edges: String::new(),
        detached: 0,
        visited: Vec::new(),
    };
    let name = components.last().copied().unwrap_or("/");
    graph.visit(top, name);
    // Links after every node of the subtree is known, so that only
    // targets outside it are drawn as such.
    for (at, id) in core::mem::take(&mut graph.visited) {
        graph.links_of(at, &id);
    }
    let mut out = String::from("digraph qom {\n");
    out.push_str("  // edge classes:");
    for (_, class, style) in EDGE_STYLES {
        let _ = write!(out, " {class} ({style});");
    }
    out.push('\n');
    out.push_str("  node [shape=box, fontname=\"monospace\"];\n");
    out.push_str(&graph.nodes);
    out.push_str(&graph.edges);
    out.push_str("}\n");
    Ok(out)
}

struct Graph<'a> {
    walk: &'a mut Walk,
    targets: &'a Targets,
    ids: HashMap<HeaderPtr, String>,
    nodes: String,
    edges: String,
    detached: usize,
    /// Every object of the subtree, in visiting order, with its id.
    visited: Vec<(HeaderPtr, String)>,
}

impl Graph<'_> {
    /// Adds `at` (held by the walk, named `name` under its parent) and its
    /// children, depth first.
    fn visit(&mut self, at: HeaderPtr, name: &str) {
        let id = self.node(at, name, false);
        let children = self.walk.children(at);
        for (name, child, kind) in &children {
            let child_id = self.node(*child, name, false);
            let edge = match kind {
                ChildEntryKind::Embedded => EdgeKind::Embedded,
                ChildEntryKind::Owned => EdgeKind::Owned,
                ChildEntryKind::Dynamic => EdgeKind::Dynamic,
            };
            self.edge(&id, &child_id, edge, Some(name));
            if edge != EdgeKind::Dynamic {
                self.edge(&child_id, &id, EdgeKind::Storage, None);
            }
        }
        self.visited.push((at, id));
        for (name, child, _) in &children {
            self.visit(*child, name);
        }
    }

    /// Edges for the link properties of `at` (held) whose targets are
    /// live.
    fn links_of(&mut self, at: HeaderPtr, id: &str) {
        // SAFETY: held by the walk.
        let header = unsafe { at.get() };
        for level in header.type_info().ancestors() {
            for p in level.own_properties().iter().filter(|p| p.is_link()) {
                // SAFETY: the link field this table entry describes, in a
                // held object.
                let cell = unsafe { cell_at(field_ptr(header, level, p)) };
                let Some(target) = cell.target_in(self.targets) else {
                    continue;
                };
                // SAFETY: a registered target is readable while the table
                // is locked (`link` module docs).
                let t = unsafe { target.get() };
                // SAFETY: an embedded target holds a storage reference on
                // its container, whose header is therefore readable.
                let container_dead = t
                    .embedding_container()
                    .is_some_and(|c| !unsafe { c.as_ref() }.is_live());
                if !t.is_live() || container_dead {
                    continue; // `Link::get` says `None` for these
                }
                let target_name = self
                    .walk
                    .path(target)
                    .map(|p| p.rsplit('/').next().unwrap_or_default().to_string())
                    .unwrap_or_default();
                let target_id = self.node(target, &target_name, true);
                self.edge(id, &target_id, EdgeKind::Link, Some(p.name()));
            }
        }
    }

    /// The node id of `at` (its canonical path), declaring the node on
    /// first sight. Link targets outside the subtree get a dashed border.
    fn node(&mut self, at: HeaderPtr, name: &str, outside: bool) -> String {
        if let Some(id) = self.ids.get(&at) {
            return id.clone();
        }
        // SAFETY: held by the walk, or a registered target.
        let type_name = unsafe { at.get() }.type_info().name();
        let id = match self.walk.path(at) {
            Some(path) => path,
            None => {
                self.detached += 1;
                format!("<detached {type_name} #{}>", self.detached)
            }
        };
        let style = if outside { ", style=dashed" } else { "" };
        let _ = writeln!(
            self.nodes,
            "  \"{}\" [label=\"{}\\n({})\"{style}];",
            escape(&id),
            escape(if name.is_empty() { &id } else { name }),
            escape(type_name),
        );
        self.ids.insert(at, id.clone());
        id
    }

    fn edge(&mut self, from: &str, to: &str, kind: EdgeKind, label: Option<&str>) {
        let (class, style) = kind.style();
        let label = label
            .map(|l| format!(", label=\"{}\"", escape(l)))
            .unwrap_or_default();
        let _ = writeln!(
            self.edges,
            "  \"{}\" -> \"{}\" [class={class}, {style}{label}];",
            escape(from),
            escape(to),
        );
    }
}

/// Escapes a DOT double-quoted string.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

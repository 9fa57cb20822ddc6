//! `graph_dot`: the DOT picture of a machine-shaped tree has exactly the
//! expected edges, each in its kind's style.
#![allow(missing_docs)]

use qom_rt::prelude::*;
use std::collections::BTreeSet;

#[derive(QomObject)]
#[qom(name = "g-dma")]
pub struct Dma {
    parent: ParentField<Object>,
}
impl ObjectImpl for Dma {}

#[derive(QomObject)]
#[qom(name = "g-uart")]
pub struct Uart {
    parent: ParentField<Object>,
    #[property]
    pub dma: Link<Dma>,
}
impl ObjectImpl for Uart {}

#[derive(QomObject)]
#[qom(name = "g-flash")]
pub struct Flash {
    parent: ParentField<Object>,
}
impl ObjectImpl for Flash {}

/// An SoC: embedded UARTs and DMA engine, an owned flash.
#[derive(QomObject)]
#[qom(name = "g-soc")]
pub struct Soc {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub uart: [Uart; 2],
    #[child(embedded)]
    pub dma: Dma,
    #[child(owned)]
    pub flash: Owned<Flash>,
}
impl ObjectImpl for Soc {}

/// A hot-plugged device linked to the SoC's DMA engine and to an object
/// outside the pictured subtree.
#[derive(QomObject)]
#[qom(name = "g-disk")]
pub struct Disk {
    parent: ParentField<Object>,
    #[property]
    pub dma: Link<Dma>,
    #[property]
    pub backend: Link<Object>,
    #[property]
    pub unset: Link<Object>,
}
impl ObjectImpl for Disk {}

/// `(from, to, class, label)` of every edge line.
fn edges(dot: &str) -> BTreeSet<(String, String, String, String)> {
    dot.lines()
        .filter(|l| l.contains(" -> "))
        .map(|line| {
            let quoted: Vec<&str> = line.split('"').collect();
            let (from, to) = (quoted[1].to_string(), quoted[3].to_string());
            let class = line
                .split("class=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap_or_default()
                .to_string();
            let label = line
                .split("label=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_string();
            (from, to, class, label)
        })
        .collect()
}

#[test]
fn dot_of_a_machine_has_exactly_the_expected_edges() {
    let machine = qom_rt::container("/g-machine").unwrap();
    let soc = Owned::<Soc>::new();
    machine.add_child("soc", soc.clone()).unwrap();
    soc.uart[0].dma.set(&soc.dma);
    let disk = Owned::<Disk>::new();
    qom_rt::container("/g-machine/peripheral")
        .unwrap()
        .add_child("disk0", disk.clone())
        .unwrap();
    disk.set_property("dma", "/g-machine/soc/dma").unwrap();
    let backend = qom_rt::container("/g-elsewhere/backend").unwrap();
    disk.backend.set(&*backend);

    let dot = qom_rt::graph_dot("/g-machine").unwrap();
    let m = "/g-machine";
    let s = "/g-machine/soc";
    let p = "/g-machine/peripheral";
    let d = "/g-machine/peripheral/disk0";
    let edge = |from: &str, to: &str, class: &str, label: &str| {
        (
            from.to_string(),
            to.to_string(),
            class.to_string(),
            label.to_string(),
        )
    };
    let expected: BTreeSet<_> = [
        edge(m, p, "dynamic", "peripheral"),
        edge(m, s, "dynamic", "soc"),
        edge(p, d, "dynamic", "disk0"),
        edge(s, "/g-machine/soc/uart[0]", "embedded", "uart[0]"),
        edge(s, "/g-machine/soc/uart[1]", "embedded", "uart[1]"),
        edge(s, "/g-machine/soc/dma", "embedded", "dma"),
        edge(s, "/g-machine/soc/flash", "owned", "flash"),
        edge("/g-machine/soc/uart[0]", s, "storage", ""),
        edge("/g-machine/soc/uart[1]", s, "storage", ""),
        edge("/g-machine/soc/dma", s, "storage", ""),
        // An owned child holds its owner's storage too (it finds its
        // owner through its own allocation).
        edge("/g-machine/soc/flash", s, "storage", ""),
        edge(
            "/g-machine/soc/uart[0]",
            "/g-machine/soc/dma",
            "link",
            "dma",
        ),
        edge(d, "/g-machine/soc/dma", "link", "dma"),
        edge(d, "/g-elsewhere/backend", "link", "backend"),
    ]
    .into_iter()
    .collect();
    assert_eq!(edges(&dot), expected, "{dot}");
    assert_eq!(
        dot.matches(" -> ").count(),
        expected.len(),
        "no duplicate edges"
    );

    // One node per object of the subtree, plus the outside link target.
    let nodes: Vec<&str> = dot.lines().filter(|l| l.contains("[label=")).collect();
    assert_eq!(nodes.len(), 9, "{dot}");
    assert!(
        dot.contains("  \"/g-machine/soc\" [label=\"soc\\n(g-soc)\"];\n"),
        "{dot}"
    );
    assert!(
        dot.contains(
            "  \"/g-elsewhere/backend\" [label=\"backend\\n(container)\", style=dashed];\n"
        ),
        "{dot}"
    );
    // Each kind has its own style.
    let style = |class: &str| {
        let line = dot
            .lines()
            .find(|l| l.contains(&format!("[class={class},")))
            .unwrap();
        line.split_once(", ").unwrap().1.to_string()
    };
    let styles: BTreeSet<String> = ["embedded", "owned", "dynamic", "link", "storage"]
        .iter()
        .map(|c| {
            let s = style(c);
            s.split(", label").next().unwrap().to_string()
        })
        .collect();
    assert_eq!(styles.len(), 5, "{styles:?}");
    assert!(dot.starts_with("digraph qom {\n") && dot.ends_with("}\n"));

    // A subtree, and a link target that has gone.
    let sub = qom_rt::graph_dot("/g-machine/peripheral").unwrap();
    assert_eq!(edges(&sub).len(), 3, "{sub}");
    backend.unparent();
    drop(backend);
    let sub = qom_rt::graph_dot("/g-machine/peripheral").unwrap();
    assert_eq!(edges(&sub).len(), 2, "the dead link is not drawn: {sub}");
    assert!(qom_rt::graph_dot("/g-machine/nothing").is_err());
    assert!(qom_rt::graph_dot("relative").is_err());

    machine.unparent();
}

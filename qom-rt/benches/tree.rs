//! Property and composition-tree benchmarks (criterion), with the per-op
//! and per-object figures of this run printed at the end (see `measure`):
//! * `set_property` from a string (and typed, and `get_property`, for
//!   comparison);
//! * `resolve_path` of a depth-6 absolute path, and a partial path;
//! * `qom_tree` over 10,000 and 100,000 objects, as ns per object (linear
//!   if the two agree).
//!
//! Run: `cargo bench -p qom-rt --bench tree` (a filter runs, and prints,
//! only the benchmarks it names).

mod measure;

use criterion::{black_box, Criterion, Throughput};
use measure::{plain, Runs};
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "bench-tree-leaf")]
struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {}

/// 17 objects in one allocation: the container and 16 embedded leaves.
#[derive(QomObject)]
#[qom(name = "bench-tree-sixteen")]
struct Sixteen {
    parent: ParentField<Object>,
    #[child(embedded)]
    leaves: [Leaf; 16],
}
impl ObjectImpl for Sixteen {}

#[derive(QomObject)]
#[qom(name = "bench-tree-dev")]
struct Dev {
    parent: ParentField<Object>,
    #[property(default = 4)]
    num_ports: Prop<u32>,
    #[property]
    dma: Link<Leaf>,
}
impl ObjectImpl for Dev {}

/// A tree of at least `objects` objects under `/bench-tree/{name}`: 17
/// per `Sixteen`, hanging off containers of 64 each.
fn build(name: &str, objects: usize) -> (Owned<Object>, usize) {
    let top = qom_rt::container(&format!("/bench-tree/{name}")).unwrap();
    let groups = objects.div_ceil(17);
    let mut count = 1;
    for g in 0..groups.div_ceil(64) {
        let group = Owned::<qom_rt::Container>::new();
        count += 1;
        for i in 0..64.min(groups - g * 64) {
            group
                .add_child(&format!("s{i}"), Owned::<Sixteen>::new())
                .unwrap();
            count += 17;
        }
        top.add_child(&format!("g{g}"), group).unwrap();
    }
    (top, count)
}

/// The `qom_tree` sizes: name, at least how many objects.
const TREES: [(&str, usize); 2] = [("10k", 10_000), ("100k", 100_000)];

fn benches<'a>(
    c: &mut Criterion,
    runs: &Runs<'a>,
    dev: &'a Owned<Dev>,
    path: &'a str,
    objects: &mut [usize; 2],
) {
    let leaf = Owned::<Leaf>::new();
    dev.dma.set(&*leaf);
    runs.group(c, "property")
        .bench(
            "set_property_string",
            plain(|| {
                dev.set_property(black_box("num-ports"), black_box("8"))
                    .unwrap()
            }),
        )
        .bench(
            "set_property_typed",
            plain(|| {
                dev.set_property_typed(black_box("num-ports"), black_box(8u32))
                    .unwrap()
            }),
        )
        .bench(
            "get_property_string",
            plain(|| dev.get_property(black_box("num-ports")).unwrap()),
        )
        .bench("link_get", plain(|| dev.dma.get()));
    drop(leaf);

    runs.group(c, "resolve_path")
        .bench(
            "depth6_absolute",
            plain(|| qom_rt::resolve_path(black_box(path)).unwrap()),
        )
        .bench(
            "depth7_partial",
            plain(|| qom_rt::resolve_path(black_box("n5/unique-name")).unwrap()),
        );

    // Each tree is built, measured and released before the next; its
    // routine is not run again after.
    let mut g = runs.group(c, "qom_tree");
    g.settings().sample_size(10);
    for (i, (name, at_least)) in TREES.into_iter().enumerate() {
        let (top, count) = build(name, at_least);
        let at = format!("/bench-tree/{name}");
        assert_eq!(qom_rt::qom_tree(&at).unwrap().lines().count(), count);
        objects[i] = count;
        g.settings().throughput(Throughput::Elements(count as u64));
        g.bench(
            name,
            plain(move || qom_rt::qom_tree(black_box(&at)).unwrap()),
        );
        top.unparent();
    }
}

/// A depth-6 absolute path with siblings at every level, and a unique
/// name under its last component (for the partial path).
fn resolve_fixture() -> String {
    let mut path = String::from("/bench-resolve");
    for depth in 1..6 {
        for sibling in 0..8 {
            qom_rt::container(&format!("{path}/n{sibling}")).unwrap();
        }
        path.push_str(&format!("/n{}", depth % 8));
    }
    assert_eq!(path.matches('/').count(), 6);
    qom_rt::container(&path)
        .unwrap()
        .add_child("unique-name", Owned::<Leaf>::new())
        .unwrap();
    path
}

fn main() {
    let dev = Owned::<Dev>::new();
    let path = resolve_fixture();
    let runs = Runs::new();
    let mut objects = [0; 2];
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &runs, &dev, &path, &mut objects);
    c.final_summary();
    measure::heading(
        "per operation (medians of criterion's batches in this run; nothing for benchmarks that did not run):",
    );
    for (label, id) in [
        ("set_property from a string", "property/set_property_string"),
        ("set_property typed", "property/set_property_typed"),
        ("get_property as a string", "property/get_property_string"),
        ("link get", "property/link_get"),
        (
            "resolve_path, depth 6, absolute",
            "resolve_path/depth6_absolute",
        ),
        (
            "resolve_path, depth 7, partial",
            "resolve_path/depth7_partial",
        ),
    ] {
        runs.print_time(label, id);
    }
    let per_object: Vec<Option<f64>> = TREES
        .iter()
        .zip(objects)
        .map(|((name, _), count)| {
            let ns = runs.ns(&format!("qom_tree/{name}")).filter(|_| measure::measuring())?;
            let each = ns / count as f64;
            println!(
                "qom_tree of {count} objects ({name}): {:.3} ms, {each:.1} ns/object (median of criterion's batches, this run)",
                ns / 1e6
            );
            Some(each)
        })
        .collect();
    if let [Some(small), Some(large)] = per_object[..] {
        println!(
            "qom_tree ns/object, 100k / 10k: {:.2} (1.0 = linear; medians of criterion's batches in this run)",
            large / small
        );
    }
}

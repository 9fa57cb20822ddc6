//! Property and composition-tree benchmarks (criterion), with the per-op
//! and per-object figures printed at the end:
//! * `set_property` from a string (and typed, and `get_property`, for
//!   comparison);
//! * `resolve_path` of a depth-6 absolute path, and a partial path;
//! * `qom_tree` over 10,000 and 100,000 objects, as ns per object (linear
//!   if the two agree).
//!
//! Run: `cargo bench -p qom-rt --bench tree`.

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
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

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("property");
    let dev = Owned::<Dev>::new();
    g.bench_function("set_property_string", |b| {
        b.iter(|| {
            dev.set_property(black_box("num-ports"), black_box("8"))
                .unwrap()
        })
    });
    g.bench_function("set_property_typed", |b| {
        b.iter(|| {
            dev.set_property_typed(black_box("num-ports"), black_box(8u32))
                .unwrap()
        })
    });
    g.bench_function("get_property_string", |b| {
        b.iter(|| black_box(dev.get_property(black_box("num-ports")).unwrap()))
    });
    let leaf = Owned::<Leaf>::new();
    dev.dma.set(&*leaf);
    g.bench_function("link_get", |b| b.iter(|| black_box(dev.dma.get())));
    g.finish();

    let mut g = c.benchmark_group("resolve_path");
    // Six components, with siblings at every level.
    let mut path = String::from("/bench-resolve");
    for depth in 1..6 {
        for sibling in 0..8 {
            qom_rt::container(&format!("{path}/n{sibling}")).unwrap();
        }
        path.push_str(&format!("/n{}", depth % 8));
    }
    let leaf_parent = qom_rt::container(&path).unwrap();
    assert_eq!(path.matches('/').count(), 6);
    g.bench_function("depth6_absolute", |b| {
        b.iter(|| black_box(qom_rt::resolve_path(black_box(&path)).unwrap()))
    });
    leaf_parent
        .add_child("unique-name", Owned::<Leaf>::new())
        .unwrap();
    g.bench_function("depth7_partial", |b| {
        b.iter(|| black_box(qom_rt::resolve_path(black_box("n5/unique-name")).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("qom_tree");
    g.sample_size(10);
    for (name, objects) in [("10k", 10_000), ("100k", 100_000)] {
        let (top, count) = build(name, objects);
        let at = format!("/bench-tree/{name}");
        assert_eq!(qom_rt::qom_tree(&at).unwrap().lines().count(), count);
        g.throughput(Throughput::Elements(count as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(qom_rt::qom_tree(black_box(&at)).unwrap()))
        });
        OBJECTS[usize::from(name == "100k")].store(count, std::sync::atomic::Ordering::Relaxed);
        top.unparent();
    }
    g.finish();
}

static OBJECTS: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

/// Mean time of one benchmark from criterion's saved estimates, in ns.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_string());
    let path = format!("{dir}/criterion/{group}/{id}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    println!("\nper operation:");
    for (group, id) in [
        ("property", "set_property_string"),
        ("property", "set_property_typed"),
        ("property", "get_property_string"),
        ("property", "link_get"),
        ("resolve_path", "depth6_absolute"),
        ("resolve_path", "depth7_partial"),
    ] {
        match mean_ns(group, id) {
            Some(ns) => println!("  {group}/{id:<24} {ns:>12.1} ns"),
            None => println!("  {group}/{id:<24} (not measured in this run)"),
        }
    }
    println!("qom_tree per object:");
    let mut per_object = Vec::new();
    for (i, name) in ["10k", "100k"].iter().enumerate() {
        let objects = OBJECTS[i].load(std::sync::atomic::Ordering::Relaxed);
        match mean_ns("qom_tree", name) {
            Some(ns) if objects > 0 => {
                let each = ns / objects as f64;
                per_object.push(each);
                println!(
                    "  {name:>4} ({objects} objects): {:>10.3} ms, {each:.1} ns/object",
                    ns / 1e6
                );
            }
            _ => println!("  {name:>4}: (not measured in this run)"),
        }
    }
    if let [small, large] = per_object[..] {
        println!(
            "  100k / 10k ns-per-object ratio: {:.2} (1.0 = linear)",
            large / small
        );
    }
}

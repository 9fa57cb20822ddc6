//! Runtime benchmarks (criterion), with the ratios the design document (`book/src/design.md`) sets targets
//! for printed at the end:
//! * `Owned` clone+drop vs `Arc` clone+drop (target <= 1.05..1.1);
//! * creating and dropping a container with 16 embedded children vs one
//!   `Box` of a same-size plain struct (target <= 1.3) and vs the same
//!   shape as 17 `Arc`s; creation alone is reported too;
//! * downcast to depth 8 vs depth 1 (target <= 1.1);
//! * `new_by_name` vs `Owned::new`;
//! * a virtual call through `&Object` vs a direct call (target <= 1.5),
//!   and an interface query.
//!
//! The ratios of routines of a few nanoseconds are measured a second way,
//! paired (see `paired_ratios`), which shared machines need.
//!
//! Run: `cargo bench -p qom-rt --bench runtime`.

mod paired;
mod sixteen;

use criterion::{black_box, BatchSize, Criterion};
use qom_rt::prelude::*;
use sixteen::{plain_sixteen, Leaf, Sixteen};
use std::sync::Arc;

macro_rules! chain {
    ($($t:ident : $p:ident = $n:literal),* $(,)?) => {$(
        #[derive(QomObject)]
        #[qom(name = $n)]
        struct $t { parent: ParentField<$p> }
        impl ObjectImpl for $t {}
    )*};
}
chain!(D1: Object = "bench-d1", D2: D1 = "bench-d2", D3: D2 = "bench-d3", D4: D3 = "bench-d4",
       D5: D4 = "bench-d5", D6: D5 = "bench-d6", D7: D6 = "bench-d7", D8: D7 = "bench-d8");

/// A class with one virtual method, for the dispatch benchmark.
trait ShapeImpl: ObjectImpl + IsA<Shape> {
    fn area(&self) -> u64;
}

struct ShapeClass {
    area: fn(&Shape) -> u64,
}

impl<T: ShapeImpl> qom_rt::ClassFor<T> for ShapeClass {
    const CLASS: Self = ShapeClass {
        area: |s| s.downcast::<T>().map_or(0, T::area),
    };
}

#[derive(QomObject)]
#[qom(name = "bench-shape", abstract, class = ShapeClass)]
struct Shape {
    parent: ParentField<Object>,
}
impl ObjectImpl for Shape {}
impl ShapeImpl for Shape {
    fn area(&self) -> u64 {
        0
    }
}

#[qom_rt::interface]
trait Scalable {
    fn scale(&self) -> u64;
}

#[derive(QomObject)]
#[qom(name = "bench-square", interfaces(Scalable))]
struct Square {
    parent: ParentField<Shape>,
    side: std::sync::atomic::AtomicU64,
}
impl ObjectImpl for Square {}
impl ShapeImpl for Square {
    #[inline(never)]
    fn area(&self) -> u64 {
        let side = self.side.load(std::sync::atomic::Ordering::Relaxed);
        side * side
    }
}
impl Scalable for Square {
    fn scale(&self) -> u64 {
        2
    }
}

/// The same shape as 17 separately counted allocations.
fn seventeen_arcs() -> (Arc<[usize; 4]>, [Arc<[usize; 4]>; 16]) {
    let parent = Arc::new([black_box(1usize), 0, 0, 0]);
    let children = std::array::from_fn(|i| Arc::new([black_box(i), 0, 0, 0]));
    (parent, children)
}

/// `Square::area` called directly (not inlined: see its attribute).
fn direct_call(square: &Square) -> u64 {
    black_box(ShapeImpl::area(black_box(square)))
}

/// `area` through `&Object`: class lookup, then the class's entry.
fn virtual_call(object: &Object) -> u64 {
    let (class, shape) = black_box(object).dispatch::<ShapeClass>().unwrap();
    black_box((class.area)(shape))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("refcount");
    let owned = Owned::<Leaf>::new();
    g.bench_function("owned_clone_drop", |b| {
        b.iter(|| drop(black_box(owned.clone())))
    });
    let embedded_parent = Owned::<Sixteen>::new();
    let embedded = Owned::from(&embedded_parent.leaves[3]);
    g.bench_function("owned_embedded_clone_drop", |b| {
        b.iter(|| drop(black_box(embedded.clone())))
    });
    let arc = Arc::new([0usize; 4]);
    g.bench_function("arc_clone_drop", |b| {
        b.iter(|| drop(black_box(arc.clone())))
    });
    g.finish();

    // Creation alone (the value is dropped by criterion, outside the timed
    // part), then the whole cycle, which the design document's target is about.
    let mut g = c.benchmark_group("create");
    // Batches of 32: the allocator recycles the memory of the previous
    // batch, as it does for the create+drop loop, so creation is not
    // measured as page faults on fresh memory.
    let batch = BatchSize::NumIterations(32);
    g.bench_function("sixteen_children", |b| {
        b.iter_batched(|| (), |()| Owned::<Sixteen>::new(), batch)
    });
    g.bench_function("box_same_size", |b| {
        b.iter_batched(|| (), |()| plain_sixteen(), batch)
    });
    g.bench_function("seventeen_arcs", |b| {
        b.iter_batched(|| (), |()| seventeen_arcs(), batch)
    });
    g.finish();

    let mut g = c.benchmark_group("create_drop");
    g.bench_function("sixteen_children", |b| {
        b.iter(|| drop(black_box(Owned::<Sixteen>::new())))
    });
    g.bench_function("box_same_size", |b| {
        b.iter(|| drop(black_box(plain_sixteen())))
    });
    g.bench_function("seventeen_arcs", |b| {
        b.iter(|| drop(black_box(seventeen_arcs())))
    });
    g.finish();

    let mut g = c.benchmark_group("downcast");
    let deep = Owned::<D8>::new().into_object();
    g.bench_function("depth1", |b| {
        b.iter(|| black_box(black_box(&*deep).downcast::<D1>().is_some()))
    });
    g.bench_function("depth8", |b| {
        b.iter(|| black_box(black_box(&*deep).downcast::<D8>().is_some()))
    });
    g.finish();

    let mut g = c.benchmark_group("class");
    let square = Owned::<Square>::new();
    square.side.store(7, std::sync::atomic::Ordering::Relaxed);
    let object: &Object = square.upcast();
    g.bench_function("direct_call", |b| b.iter(|| direct_call(&square)));
    g.bench_function("virtual_call_through_object", |b| {
        b.iter(|| virtual_call(object))
    });
    g.bench_function("interface_query", |b| {
        b.iter(|| {
            black_box(
                black_box(object)
                    .interface::<dyn Scalable>()
                    .map(|s| s.scale()),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("instantiate");
    g.bench_function("owned_new", |b| {
        b.iter(|| drop(black_box(Owned::<D8>::new())))
    });
    g.bench_function("new_by_name", |b| {
        b.iter(|| {
            drop(black_box(
                qom_rt::new_by_name(black_box("bench-d8")).unwrap(),
            ))
        })
    });
    g.finish();
}

/// Mean time of one benchmark from criterion's saved estimates, in ns.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_string());
    let path = format!("{dir}/criterion/{group}/{id}/new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn ratio(label: &str, target: &str, (g1, a): (&str, &str), (g2, b): (&str, &str)) {
    match (mean_ns(g1, a), mean_ns(g2, b)) {
        (Some(x), Some(y)) => println!(
            "{label:<48} {x:>9.2} ns / {y:>9.2} ns = {:.3}  (target {target})",
            x / y
        ),
        _ => println!("{label:<48} (not measured in this run)"),
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    println!("\nratios (criterion means):");
    ratio(
        "Owned clone+drop / Arc clone+drop",
        "<= 1.05",
        ("refcount", "owned_clone_drop"),
        ("refcount", "arc_clone_drop"),
    );
    ratio(
        "embedded Owned clone+drop / Arc clone+drop",
        "<= 1.05",
        ("refcount", "owned_embedded_clone_drop"),
        ("refcount", "arc_clone_drop"),
    );
    ratio(
        "create 16 embedded children / one Box",
        "report",
        ("create", "sixteen_children"),
        ("create", "box_same_size"),
    );
    ratio(
        "create 16 embedded children / 17 Arcs",
        "< 1",
        ("create", "sixteen_children"),
        ("create", "seventeen_arcs"),
    );
    ratio(
        "create+drop 16 embedded children / one Box",
        "<= 1.3",
        ("create_drop", "sixteen_children"),
        ("create_drop", "box_same_size"),
    );
    ratio(
        "create+drop 16 embedded children / 17 Arcs",
        "< 1",
        ("create_drop", "sixteen_children"),
        ("create_drop", "seventeen_arcs"),
    );
    ratio(
        "downcast depth 8 / depth 1",
        "<= 1.1",
        ("downcast", "depth8"),
        ("downcast", "depth1"),
    );
    ratio(
        "virtual call through &Object / direct call",
        "<= 1.5",
        ("class", "virtual_call_through_object"),
        ("class", "direct_call"),
    );
    match mean_ns("class", "interface_query") {
        Some(ns) => println!("{:<48} {ns:>9.2} ns", "interface query from &Object"),
        None => println!(
            "{:<48} (not measured in this run)",
            "interface query from &Object"
        ),
    }
    ratio(
        "new_by_name / Owned::new",
        "report",
        ("instantiate", "new_by_name"),
        ("instantiate", "owned_new"),
    );
    paired_ratios();
}

/// The ratios below a few nanoseconds again, each from two routines timed
/// in alternation (`paired::ratio`): the median of 21 per-round ratios,
/// printed with their range.
fn paired_ratios() {
    println!("\npaired ratios (median of 21 alternating rounds, min..max):");
    let owned = Owned::<Leaf>::new();
    let arc = Arc::new([0usize; 4]);
    print_paired(
        "Owned clone+drop / Arc clone+drop",
        "<= 1.05",
        || drop(black_box(owned.clone())),
        || drop(black_box(arc.clone())),
    );
    let container = Owned::<Sixteen>::new();
    let embedded = Owned::from(&container.leaves[3]);
    print_paired(
        "embedded Owned clone+drop / Arc clone+drop",
        "<= 1.05",
        || drop(black_box(embedded.clone())),
        || drop(black_box(arc.clone())),
    );
    let square = Owned::<Square>::new();
    let object: &Object = square.upcast();
    print_paired(
        "virtual call through &Object / direct call",
        "<= 1.5",
        || _ = virtual_call(object),
        || _ = direct_call(&square),
    );
    let deep = Owned::<D8>::new().into_object();
    print_paired(
        "downcast depth 8 / depth 1",
        "<= 1.1",
        || _ = black_box(black_box(&*deep).downcast::<D8>().is_some()),
        || _ = black_box(black_box(&*deep).downcast::<D1>().is_some()),
    );
    print_paired(
        "create+drop 16 embedded children / one Box",
        "<= 1.3",
        || drop(black_box(Owned::<Sixteen>::new())),
        || drop(black_box(plain_sixteen())),
    );
}

fn print_paired(label: &str, target: &str, a: impl FnMut(), b: impl FnMut()) {
    let (median, min, max) = paired::ratio(a, b, None);
    println!("{label:<48} {median:.3}  ({min:.3}..{max:.3})  (target {target})");
}

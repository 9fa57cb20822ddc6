//! Runtime benchmarks (criterion), and at the end the ratios the design document
//! (`book/src/design.md`) and the issues set targets for, each measured in this run (see `measure`):
//! * `Owned` clone+drop vs `Arc` clone+drop;
//! * creating (and dropping) a container with 16 embedded children vs one
//!   `Box` of a same-size plain struct, and vs the same shape as 17 `Arc`s;
//! * downcast to depth 8 vs depth 1;
//! * a virtual call through `&Object` (class dispatch, then the call) vs
//!   Rust's own `&dyn Trait` call and a direct call;
//! * `new_by_name` vs `Owned::new`;
//! * an interface query (a time).
//!
//! Run: `cargo bench -p qom-rt --bench runtime`; a filter
//! (`cargo bench -p qom-rt --bench runtime -- call`) runs only the
//! benchmarks it names, and prints only the ratios whose two sides ran.

mod measure;
mod sixteen;

use criterion::{black_box, Criterion};
use measure::{keeping, plain, Runs};
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
impl Square {
    /// The body every call below ends in.
    #[inline]
    fn compute_area(&self) -> u64 {
        let side = self.side.load(std::sync::atomic::Ordering::Relaxed);
        side * side
    }
}
impl ShapeImpl for Square {
    fn area(&self) -> u64 {
        self.compute_area()
    }
}
impl Scalable for Square {
    fn scale(&self) -> u64 {
        2
    }
}

/// Rust's own virtual call, for comparison.
trait Area {
    fn area(&self) -> u64;
}
impl Area for Square {
    fn area(&self) -> u64 {
        self.compute_area()
    }
}

// The three calls, each behind a function that is never inlined, of the
// same shape (one reference in, the area out), so that the routines that
// call them are alike and code placement does not decide.

/// A direct call.
#[inline(never)]
fn direct_call(square: &Square) -> u64 {
    square.compute_area()
}

/// Rust's virtual call: the vtable's entry.
#[inline(never)]
fn dyn_call(shape: &dyn Area) -> u64 {
    shape.area()
}

/// A class's virtual method through `&Object`: the class lookup (one
/// lineage check), then the class's entry.
#[inline(never)]
fn class_call(object: &Object) -> u64 {
    match object.dispatch::<ShapeClass>() {
        Some((class, shape)) => (class.area)(shape),
        None => 0,
    }
}

/// The same shape as 17 separately counted allocations.
fn seventeen_arcs() -> (Arc<[usize; 4]>, [Arc<[usize; 4]>; 16]) {
    let parent = Arc::new([black_box(1usize), 0, 0, 0]);
    let children = std::array::from_fn(|i| Arc::new([black_box(i), 0, 0, 0]));
    (parent, children)
}

/// The objects the routines use, alive for the whole run (the summary
/// runs routines again).
struct Fixtures {
    owned: Owned<Leaf>,
    /// A reference to a leaf embedded in `container`.
    embedded: Owned<Leaf>,
    _container: Owned<Sixteen>,
    arc: Arc<[usize; 4]>,
    deep: Owned<Object>,
    square: Owned<Square>,
}

impl Fixtures {
    fn new() -> Self {
        let container = Owned::<Sixteen>::new();
        let square = Owned::<Square>::new();
        square.side.store(7, std::sync::atomic::Ordering::Relaxed);
        Fixtures {
            owned: Owned::<Leaf>::new(),
            embedded: Owned::from(&container.leaves[3]),
            _container: container,
            arc: Arc::new([0usize; 4]),
            deep: Owned::<D8>::new().into_object(),
            square,
        }
    }
}

fn benches<'a>(c: &mut Criterion, runs: &Runs<'a>, fx: &'a Fixtures) {
    runs.group(c, "refcount")
        .bench("owned_clone_drop", plain(|| fx.owned.clone()))
        .bench("owned_embedded_clone_drop", plain(|| fx.embedded.clone()))
        .bench("arc_clone_drop", plain(|| fx.arc.clone()));

    // Creation alone (each value dropped outside the timed part), then
    // the whole cycle, which the design document's target is about.
    runs.group(c, "create")
        .bench("sixteen_children", keeping(Owned::<Sixteen>::new))
        .bench("box_same_size", keeping(plain_sixteen))
        .bench("seventeen_arcs", keeping(seventeen_arcs));
    runs.group(c, "create_drop")
        .bench("sixteen_children", plain(Owned::<Sixteen>::new))
        .bench("box_same_size", plain(plain_sixteen))
        .bench("seventeen_arcs", plain(seventeen_arcs));

    let deep: &Object = &fx.deep;
    runs.group(c, "downcast")
        .bench(
            "depth1",
            plain(move || black_box(deep).downcast::<D1>().is_some()),
        )
        .bench(
            "depth8",
            plain(move || black_box(deep).downcast::<D8>().is_some()),
        );

    let square: &Square = &fx.square;
    let object: &Object = square.upcast();
    runs.group(c, "call")
        .bench("direct", plain(move || direct_call(black_box(square))))
        .bench("dyn_trait", plain(move || dyn_call(black_box(square))))
        .bench(
            "class_through_object",
            plain(move || class_call(black_box(object))),
        )
        .bench(
            "interface_query",
            plain(move || {
                black_box(object)
                    .interface::<dyn Scalable>()
                    .map(|s| s.scale())
            }),
        );

    runs.group(c, "instantiate")
        .bench("owned_new", plain(Owned::<D8>::new))
        .bench(
            "new_by_name",
            plain(|| qom_rt::new_by_name(black_box("bench-d8")).unwrap()),
        );
}

fn main() {
    let fixtures = Fixtures::new();
    let runs = Runs::new();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &runs, &fixtures);
    c.final_summary();
    measure::heading(&format!(
        "ratios, each measured now: the median of {} rounds timing the two routines in \
         alternation (range, and the ratio of each side's fastest round), with the medians of \
         criterion's batches in this run; a ratio whose two benchmarks did not both run is not printed",
        measure::ROUNDS
    ));
    let ratio = |label, target, a, b| runs.print_ratio(label, target, a, b);
    ratio(
        "Owned clone+drop / Arc clone+drop",
        "<= 1.05",
        "refcount/owned_clone_drop",
        "refcount/arc_clone_drop",
    );
    ratio(
        "embedded Owned clone+drop / Arc clone+drop",
        "<= 1.05",
        "refcount/owned_embedded_clone_drop",
        "refcount/arc_clone_drop",
    );
    ratio(
        "create 16 embedded children / one Box",
        "(report)",
        "create/sixteen_children",
        "create/box_same_size",
    );
    ratio(
        "create 16 embedded children / 17 Arcs",
        "< 1",
        "create/sixteen_children",
        "create/seventeen_arcs",
    );
    ratio(
        "create+drop 16 embedded children / one Box",
        "<= 1.3",
        "create_drop/sixteen_children",
        "create_drop/box_same_size",
    );
    ratio(
        "create+drop 16 embedded children / 17 Arcs",
        "< 1",
        "create_drop/sixteen_children",
        "create_drop/seventeen_arcs",
    );
    ratio(
        "downcast depth 8 / depth 1",
        "<= 1.1",
        "downcast/depth8",
        "downcast/depth1",
    );
    ratio(
        "virtual call: &Object class dispatch / &dyn Trait",
        "<= 1.2",
        "call/class_through_object",
        "call/dyn_trait",
    );
    ratio(
        "virtual call: &Object class dispatch / direct call",
        "(report)",
        "call/class_through_object",
        "call/direct",
    );
    ratio(
        "virtual call: &dyn Trait / direct call",
        "(report)",
        "call/dyn_trait",
        "call/direct",
    );
    ratio(
        "new_by_name / Owned::new (each + drop)",
        "<= 2",
        "instantiate/new_by_name",
        "instantiate/owned_new",
    );
    runs.print_time("interface query from &Object", "call/interface_query");
}

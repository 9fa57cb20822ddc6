//! Lifetime semantics: one allocation, finalize order, embedded children
//! outliving their container, resurrection, functional lifetime.

mod common;
use common::*;
use qom_rt::prelude::*;
use qom_rt::LifeState;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn warm_up() {
    // The tree's side table and root are created once per process.
    drop(Owned::<Board>::new());
    take_log();
}

#[test]
fn container_with_embedded_children_is_one_allocation() {
    let _g = serial();
    warm_up();
    let before = live_allocations();
    let n = allocations_during(|| {
        let s = Owned::<Sixteen>::new();
        assert_eq!(s.leaves[15].type_name(), "test-plain");
        drop(s);
    });
    assert_eq!(
        n, 1,
        "16 embedded children must share the container's allocation"
    );
    assert_eq!(live_allocations(), before, "nothing leaked");
}

#[test]
fn owned_child_is_its_own_allocation_and_nothing_leaks() {
    let _g = serial();
    warm_up();
    let before = live_allocations();
    let mut board = None;
    let n = allocations_during(|| board = Some(Owned::<Board>::new()));
    let board = board.unwrap();
    // The board (with its 5 embedded leaves) and the companion, plus the
    // hooks' log lines; the exact count is the next test's.
    assert!(n >= 2, "the owned child has its own allocation ({n})");
    let companion = board.companion.clone();
    drop(board);
    assert_eq!(companion.ref_count_for_test(), 1);
    drop(companion);
    assert_eq!(live_allocations(), before, "nothing leaked");
    take_log();
}

/// An object with one owned child, and nothing else.
#[derive(QomObject)]
#[qom(name = "test-with-owned")]
struct WithOwned {
    parent: ParentField<Object>,
    #[child(owned)]
    child: Owned<Plain>,
}
impl ObjectImpl for WithOwned {}

#[test]
fn an_object_with_one_owned_child_is_exactly_two_allocations() {
    let _g = serial();
    warm_up();
    let before = live_allocations();
    let n = allocations_during(|| drop(Owned::<WithOwned>::new()));
    assert_eq!(n, 2);
    assert_eq!(live_allocations(), before, "both freed");
}

trait RefCount {
    fn ref_count_for_test(&self) -> usize;
}
impl<T: ObjectType> RefCount for Owned<T> {
    fn ref_count_for_test(&self) -> usize {
        self.header().ref_count()
    }
}

#[test]
fn init_and_finalize_run_in_the_documented_order() {
    let _g = serial();
    take_log();
    let board = Owned::<Board>::new();
    assert_eq!(
        take_log(),
        [
            // Every hook runs once the whole allocation is built: the
            // parent type's level first, each level's children before it.
            "init leaf", // base_leaf (the parent type's embedded child)
            "init base",
            "init leaf", // uart
            "init leaf", // timers[0..3]
            "init leaf",
            "init leaf",
            "init leaf", // companion (declaration order)
            "init board",
        ]
    );
    drop(board);
    assert_eq!(
        take_log(),
        [
            "finalize board", // subtype hook, children usable
            "drop noisy",     // own plain fields
            "finalize leaf ", // companion (reverse declaration order) -- detached, empty tag
            "finalize leaf ", // timers[2]
            "finalize leaf ", // timers[1]
            "finalize leaf ", // timers[0]
            "finalize leaf ", // uart
            "finalize base",  // parent type's hook after the subtype's
            "finalize leaf ", // base_leaf
        ]
    );
}

#[test]
fn embedded_child_outlives_its_container_and_frees_the_storage_last() {
    let _g = serial();
    warm_up();
    let before = live_allocations();
    let board = Owned::<Board>::new();
    board.uart.tag.set("uart".into());
    let uart: Owned<Leaf> = Owned::from(&board.uart);
    take_log();
    drop(board);
    let log = take_log();
    assert!(log.contains(&"finalize board".to_string()));
    assert!(
        !log.contains(&"finalize leaf uart".to_string()),
        "uart is still referenced"
    );
    drop(log);
    // The container has finalized but its memory is held by the child
    // (+1), whose tag string is still alive too (+1).
    assert_eq!(live_allocations(), before + 2);
    assert_eq!(uart.header().state(), LifeState::Live);
    assert!(
        uart.container::<Board>().is_none(),
        "functional lifetime: container is gone"
    );
    assert_eq!(uart.tag.get(), "uart", "the child's own state is intact");
    drop(uart);
    assert_eq!(take_log(), ["finalize leaf uart"]);
    assert_eq!(
        live_allocations(),
        before,
        "storage freed after the last child"
    );
}

#[test]
fn nested_embedded_child_keeps_the_whole_allocation() {
    let _g = serial();
    warm_up();
    let before = live_allocations();
    let nested = Owned::<Nested>::new();
    let timer = Owned::from(&nested.inner.timers[2]);
    assert!(
        timer.container::<Board>().is_some(),
        "container live while nested is"
    );
    drop(nested);
    assert!(timer.container::<Board>().is_none());
    assert_eq!(live_allocations(), before + 1);
    drop(timer);
    assert_eq!(live_allocations(), before);
    take_log();
}

#[test]
fn owned_child_outlives_its_owner() {
    let _g = serial();
    let board = Owned::<Board>::new();
    let companion = board.companion.clone();
    assert!(companion.container::<Board>().is_some());
    take_log();
    drop(board);
    let log = take_log();
    assert_eq!(
        log.iter()
            .filter(|e| e.starts_with("finalize leaf"))
            .count(),
        5,
        "all but the companion"
    );
    assert!(
        companion.container::<Board>().is_none(),
        "its owner is gone"
    );
    assert_eq!(companion.header().state(), LifeState::Live);
    drop(companion);
    assert_eq!(take_log(), ["finalize leaf "]);
}

#[derive(QomObject)]
#[qom(name = "test-resurrector")]
struct Resurrector {
    parent: ParentField<Object>,
}

impl ObjectImpl for Resurrector {
    fn finalize(&self) {
        log("finalize resurrector");
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Owned::from(self)));
        let message = attempt.err().and_then(|e| e.downcast::<String>().ok());
        log(format!(
            "resurrection: {}",
            message.map(|m| *m).unwrap_or_default()
        ));
    }
}

#[test]
fn resurrection_panics_and_finalize_runs_once() {
    let _g = serial();
    warm_up();
    // No panic message or backtrace output: their one-time caches would
    // count as allocations.
    let quiet = QuietPanics::new();
    let before = live_allocations();
    let r = Owned::<Resurrector>::new();
    drop(r);
    let log = take_log();
    drop(quiet);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], "finalize resurrector");
    assert!(
        log[1].contains("reference taken on `test-resurrector`") && log[1].contains("finalizing"),
        "{}",
        log[1]
    );
    drop(log);
    assert_eq!(live_allocations(), before, "freed exactly once");
}

#[test]
fn references_on_an_embedded_child_count_like_any_other() {
    let _g = serial();
    let board = Owned::<Board>::new();
    let a = Owned::from(&board.timers[0]);
    let b = a.clone();
    assert_eq!(a.header().ref_count(), 3, "container + a + b");
    assert_eq!(
        board.header().storage_count(),
        1 + 5 + 1,
        "self + 5 embedded children + the owned child"
    );
    drop(board);
    drop(a);
    drop(b);
    take_log();
}

/// Finalizations of `Counted`.
static COUNTED_FINALIZED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A standalone object with no owned child: unshared, so its first
/// reference's drop may finalize without a read-modify-write -- but only
/// when it is the last one.
#[derive(QomObject)]
#[qom(name = "test-counted")]
struct Counted {
    parent: ParentField<Object>,
}
impl ObjectImpl for Counted {
    fn finalize(&self) {
        COUNTED_FINALIZED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn the_first_reference_dropped_before_a_clone_does_not_finalize() {
    let _g = serial();
    use std::sync::atomic::Ordering::SeqCst;
    let before = COUNTED_FINALIZED.load(SeqCst);
    let first = Owned::<Counted>::new();
    let clone = first.clone();
    drop(first);
    assert_eq!(
        COUNTED_FINALIZED.load(SeqCst),
        before,
        "a clone still holds it"
    );
    assert_eq!(clone.header().state(), LifeState::Live);
    assert_eq!(clone.header().ref_count(), 1);
    drop(clone);
    assert_eq!(COUNTED_FINALIZED.load(SeqCst), before + 1);
}

/// `ptr_eq`, `==` and `Debug` tell two objects of one type apart, and
/// tell two references to one object alike.
#[test]
fn equality_and_debug_tell_objects_apart() {
    let a = Owned::<Counted>::new();
    let b = Owned::<Counted>::new();
    let a2 = a.clone();
    assert!(Owned::ptr_eq(&a, &a2));
    assert!(!Owned::ptr_eq(&a, &b));
    assert_eq!(a, a2);
    assert_ne!(a, b);
    let shown = format!("{a:?}");
    assert!(shown.starts_with("Owned<test-counted>(0x"), "{shown}");
    assert_eq!(shown, format!("{a2:?}"));
    assert_ne!(shown, format!("{b:?}"));
}

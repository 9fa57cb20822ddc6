//! Model checks of the reference-counting code with `loom`: every
//! interleaving (within loom's bounds) of the racing operations is run.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p qom-rt --test loom --release`.
#![cfg(loom)]

use loom::thread;
use qom_rt::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Counts frees of one watched allocation size (the container's).
struct WatchFrees;
static WATCHED_SIZE: AtomicUsize = AtomicUsize::new(0);
static WATCHED_FREES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for WatchFrees {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The board's alignment is unique in this test: count by it.
        if layout.align() == 512 && layout.size() == WATCHED_SIZE.load(SeqCst) {
            WATCHED_FREES.fetch_add(1, SeqCst);
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: WatchFrees = WatchFrees;

static FINALIZED_LEAVES: AtomicUsize = AtomicUsize::new(0);
static FINALIZED_BOARDS: AtomicUsize = AtomicUsize::new(0);

#[derive(QomObject)]
#[qom(name = "loom-leaf")]
struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {
    fn finalize(&self) {
        FINALIZED_LEAVES.fetch_add(1, SeqCst);
    }
}

#[derive(QomObject)]
#[qom(name = "loom-board")]
#[repr(align(512))]
struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    leaves: [Leaf; 2],
}
impl ObjectImpl for Board {
    fn finalize(&self) {
        FINALIZED_BOARDS.fetch_add(1, SeqCst);
    }
}

/// The counters are process-wide: models run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn reset() {
    WATCHED_SIZE.store(core::mem::size_of::<Board>(), SeqCst);
    WATCHED_FREES.store(0, SeqCst);
    FINALIZED_LEAVES.store(0, SeqCst);
    FINALIZED_BOARDS.store(0, SeqCst);
}

fn assert_all_gone() {
    assert_eq!(FINALIZED_BOARDS.load(SeqCst), 1, "board finalized once");
    assert_eq!(FINALIZED_LEAVES.load(SeqCst), 2, "each leaf finalized once");
    assert_eq!(WATCHED_FREES.load(SeqCst), 1, "storage freed exactly once");
}

/// The container's last reference and an embedded child's last reference
/// are dropped on two threads at once: whoever is last frees the storage.
#[test]
fn container_and_embedded_child_dropped_concurrently() {
    let _g = serial();
    loom::model(|| {
        reset();
        let board = Owned::<Board>::new();
        let leaf = Owned::from(&board.leaves[1]);
        let t = thread::spawn(move || drop(leaf));
        drop(board);
        t.join().unwrap();
        assert_all_gone();
    });
}

/// Clones and drops of one embedded child on two threads while the
/// container's last reference goes on a third.
#[test]
fn clone_and_drop_of_a_child_while_the_container_goes() {
    let _g = serial();
    loom::model(|| {
        reset();
        let board = Owned::<Board>::new();
        let leaf = Owned::from(&board.leaves[0]);
        let other = leaf.clone();
        let t = thread::spawn(move || {
            let again = other.clone();
            drop(other);
            drop(again);
        });
        drop(board);
        drop(leaf);
        t.join().unwrap();
        assert_all_gone();
    });
}

/// A child asking for its container races the container's last drop: it
/// gets either a live container (keeping it alive) or `None`.
#[test]
fn container_upgrade_races_the_last_drop() {
    let _g = serial();
    loom::model(|| {
        reset();
        let board = Owned::<Board>::new();
        let leaf = Owned::from(&board.leaves[0]);
        let t = thread::spawn(move || {
            if let Some(board) = leaf.container::<Board>() {
                assert_eq!(board.leaves.len(), 2);
            }
            drop(leaf);
        });
        drop(board);
        t.join().unwrap();
        assert_all_gone();
    });
}

/// The first `Owned` of a container skips the decrement when it is the
/// last reference and nothing escaped from the container. Here a second
/// reference lets a child escape on another thread and goes; the first
/// reference is dropped once that is done (so its drop finds itself the
/// last one) while the escaped child asks for its container. The drop
/// must see the escape and go through the counts.
#[test]
fn an_escape_through_another_reference_disables_the_unique_drop() {
    let _g = serial();
    loom::model(|| {
        reset();
        let board = Owned::<Board>::new();
        let other = board.clone();
        let other_gone = std::sync::Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let signal = other_gone.clone();
        let t = thread::spawn(move || {
            let leaf = Owned::from(&other.leaves[1]);
            drop(other);
            signal.store(true, SeqCst);
            if let Some(board) = leaf.container::<Board>() {
                // Held, so not finalized under us: a clone succeeds (it
                // panics on a parked count) and the hook has not run.
                drop(board.clone());
                assert_eq!(board.header().state(), qom_rt::LifeState::Live);
                assert_eq!(FINALIZED_BOARDS.load(SeqCst), 0);
            }
            drop(leaf);
        });
        while !other_gone.load(SeqCst) {
            thread::yield_now();
        }
        drop(board);
        t.join().unwrap();
        assert_all_gone();
    });
}

#[derive(QomObject)]
#[qom(name = "loom-phoenix")]
struct Phoenix {
    parent: ParentField<Object>,
}
impl ObjectImpl for Phoenix {
    fn finalize(&self) {
        FINALIZED_BOARDS.fetch_add(1, SeqCst);
        // A resurrection attempt from the finalize hook: it must panic and
        // leave the count as it was, so finalize still runs exactly once.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Owned::from(self)));
        assert!(attempt.is_err(), "resurrection must panic");
    }
}

/// The last two references of an object dropped on two threads while its
/// finalize hook tries to resurrect it: the attempt panics, finalize runs
/// once, whoever dropped last.
#[test]
fn resurrection_during_finalize_panics_and_finalize_runs_once() {
    let _g = serial();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    loom::model(|| {
        FINALIZED_BOARDS.store(0, SeqCst);
        let phoenix = Owned::<Phoenix>::new();
        let other = phoenix.clone();
        let t = thread::spawn(move || drop(other));
        drop(phoenix);
        t.join().unwrap();
        assert_eq!(FINALIZED_BOARDS.load(SeqCst), 1, "finalized exactly once");
    });
    std::panic::set_hook(hook);
}

/// A container with an owned child, embedded two levels down in a top
/// container: the owned child reaches its owner through its own
/// allocation, not through a strong reference.
#[derive(QomObject)]
#[qom(name = "loom-mid")]
struct Mid {
    parent: ParentField<Object>,
    #[child(owned)]
    spare: Owned<Leaf>,
    alive: std::sync::atomic::AtomicBool,
}
impl ObjectImpl for Mid {
    fn init(&self) {
        self.alive.store(true, SeqCst);
    }
    fn finalize(&self) {
        self.alive.store(false, SeqCst);
    }
}

#[derive(QomObject)]
#[qom(name = "loom-top")]
#[repr(align(512))]
struct Top {
    parent: ParentField<Object>,
    #[child(embedded)]
    mid: Mid,
}
impl ObjectImpl for Top {
    fn finalize(&self) {
        FINALIZED_BOARDS.fetch_add(1, SeqCst);
    }
}

/// An owned child asks for its owner (embedded in a top container) while
/// the top's last reference goes on another thread: it gets a live owner,
/// which stays live while held, or `None`; everything is finalized once
/// and the top's storage freed once.
#[test]
fn owned_child_container_races_the_drop_two_levels_up() {
    let _g = serial();
    loom::model(|| {
        reset();
        WATCHED_SIZE.store(core::mem::size_of::<Top>(), SeqCst);
        let top = Owned::<Top>::new();
        let spare = top.mid.spare.clone();
        let t = thread::spawn(move || {
            if let Some(mid) = spare.container::<Mid>() {
                assert!(mid.alive.load(SeqCst), "finalized under a held reference");
            }
            drop(spare);
        });
        drop(top);
        t.join().unwrap();
        assert_eq!(FINALIZED_BOARDS.load(SeqCst), 1, "top finalized once");
        assert_eq!(FINALIZED_LEAVES.load(SeqCst), 1, "spare finalized once");
        assert_eq!(WATCHED_FREES.load(SeqCst), 1, "storage freed exactly once");
    });
}

/// `..` from an escaped embedded child races its container's last drop:
/// the walk gets the live container (and holds it) or an error.
#[test]
fn dotdot_races_the_containers_last_drop() {
    let _g = serial();
    loom::model(|| {
        reset();
        let board = Owned::<Board>::new();
        let leaf = Owned::from(&board.leaves[1]);
        let t = thread::spawn(move || {
            if let Ok(up) = leaf.resolve("..") {
                assert_eq!(FINALIZED_BOARDS.load(SeqCst), 0, "finalized under `..`");
                assert!(up.downcast::<Board>().is_some());
            }
            drop(leaf);
        });
        drop(board);
        t.join().unwrap();
        assert_all_gone();
    });
}

/// A parent type with a finalize hook, and a subtype with an embedded
/// child: finalize switches the object's type to the parent's while the
/// parent level runs.
#[derive(QomObject)]
#[qom(name = "loom-base", abstract)]
struct Base {
    parent: ParentField<Object>,
}
impl ObjectImpl for Base {
    fn finalize(&self) {
        FINALIZED_BOARDS.fetch_add(1, SeqCst);
    }
}

#[derive(QomObject)]
#[qom(name = "loom-sub")]
struct Sub {
    parent: ParentField<Base>,
    #[child(embedded)]
    leaf: Leaf,
    alive: std::sync::atomic::AtomicBool,
}
impl ObjectImpl for Sub {
    fn init(&self) {
        self.alive.store(true, SeqCst);
    }
    fn finalize(&self) {
        self.alive.store(false, SeqCst);
    }
}

/// A child asks for its container as the parent type, then downcasts to
/// the subtype, while the container's last reference goes and finalize
/// switches its type: a container obtained is live and still the subtype.
#[test]
fn type_switch_of_finalize_races_a_downcast() {
    let _g = serial();
    loom::model(|| {
        FINALIZED_BOARDS.store(0, SeqCst);
        FINALIZED_LEAVES.store(0, SeqCst);
        let sub = Owned::<Sub>::new();
        let leaf = Owned::from(&sub.leaf);
        let t = thread::spawn(move || {
            if let Some(base) = leaf.container::<Base>() {
                let sub = base.downcast::<Sub>().expect("a live `Sub` stays one");
                assert!(sub.alive.load(SeqCst), "finalized under a held reference");
            }
            drop(leaf);
        });
        drop(sub);
        t.join().unwrap();
        assert_eq!(FINALIZED_BOARDS.load(SeqCst), 1, "base level once");
        assert_eq!(FINALIZED_LEAVES.load(SeqCst), 1, "leaf once");
    });
}

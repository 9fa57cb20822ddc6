//! Stress: threads clone and drop references to embedded and owned
//! children while the container's last reference goes. Finalize runs once
//! per object and every allocation is returned. Runs under Miri (fewer
//! rounds), which also checks the data-race freedom of each interleaving
//! it explores.

use qom_rt::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;

/// Counts live allocations of the two watched sizes (board and companion).
struct Watch;
static LIVE_BOARDS: AtomicUsize = AtomicUsize::new(0);
static LIVE_COMPANIONS: AtomicUsize = AtomicUsize::new(0);

/// Board and companion have alignments nothing else in this test asks
/// for, so their allocations are told apart by layout alone.
fn counter(layout: Layout) -> Option<&'static AtomicUsize> {
    if layout == Layout::new::<Board>() {
        Some(&LIVE_BOARDS)
    } else if layout == Layout::new::<Companion>() {
        Some(&LIVE_COMPANIONS)
    } else {
        None
    }
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(c) = counter(layout) {
            c.fetch_add(1, SeqCst);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(c) = counter(layout) {
            c.fetch_sub(1, SeqCst);
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

static LEAF_FINALIZES: AtomicUsize = AtomicUsize::new(0);
static BOARD_FINALIZES: AtomicUsize = AtomicUsize::new(0);
static COMPANION_FINALIZES: AtomicUsize = AtomicUsize::new(0);

#[derive(QomObject)]
#[qom(name = "stress-leaf")]
struct Leaf {
    parent: ParentField<Object>,
    hits: AtomicUsize,
}
impl ObjectImpl for Leaf {
    fn finalize(&self) {
        LEAF_FINALIZES.fetch_add(1, SeqCst);
    }
}

#[derive(QomObject)]
#[qom(name = "stress-companion")]
#[repr(align(256))]
struct Companion {
    parent: ParentField<Object>,
}
impl ObjectImpl for Companion {
    fn finalize(&self) {
        COMPANION_FINALIZES.fetch_add(1, SeqCst);
    }
}

#[derive(QomObject)]
#[qom(name = "stress-board")]
#[repr(align(512))]
struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    leaves: [Leaf; 4],
    #[child(owned)]
    companion: Owned<Companion>,
}
impl ObjectImpl for Board {
    fn finalize(&self) {
        BOARD_FINALIZES.fetch_add(1, SeqCst);
    }
}

const THREADS: usize = 4;
const ROUNDS: usize = if cfg!(miri) { 3 } else { 300 };
const CLONES: usize = if cfg!(miri) { 4 } else { 50 };

#[test]
fn four_threads_race_the_container_drop() {
    for round in 0..ROUNDS {
        let board = Owned::<Board>::new();
        let barrier = Barrier::new(THREADS + 1);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let leaf = Owned::from(&board.leaves[t]);
                let companion = board.companion.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..CLONES {
                        let again = leaf.clone();
                        again.hits.fetch_add(1, SeqCst);
                        if i % 2 == 0 {
                            drop(companion.clone());
                        }
                        // Functional lifetime: a live container or none.
                        if let Some(b) = again.container::<Board>() {
                            assert_eq!(b.leaves.len(), 4);
                        }
                    }
                    assert_eq!(leaf.hits.load(SeqCst), CLONES);
                });
            }
            let board = board;
            barrier.wait();
            drop(board);
        });
        let n = round + 1;
        assert_eq!(
            BOARD_FINALIZES.load(SeqCst),
            n,
            "board finalized once per round"
        );
        assert_eq!(
            LEAF_FINALIZES.load(SeqCst),
            4 * n,
            "each leaf finalized once"
        );
        assert_eq!(COMPANION_FINALIZES.load(SeqCst), n);
        assert_eq!(LIVE_BOARDS.load(SeqCst), 0, "board storage freed");
        assert_eq!(LIVE_COMPANIONS.load(SeqCst), 0, "companion freed");
    }
}

//! Shared test fixtures: object types whose hooks record what happens, and
//! a counting global allocator.
#![allow(dead_code)]

use qom_rt::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, Once};

/// Counts allocations and frees, process-wide and per thread (the test
/// harness allocates on other threads while a test runs).
pub struct CountingAlloc;

pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static FREES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_ALLOCS: Cell<usize> = const { Cell::new(0) };
    static THREAD_FREES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged, only counting.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREES.fetch_add(1, Relaxed);
        let _ = THREAD_FREES.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn thread_allocs() -> usize {
    THREAD_ALLOCS.with(Cell::get)
}

/// Tests that count allocations run one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Silences the panics of this thread (the ones a test provokes and
/// catches) until dropped. Other threads' panics still print, so a test
/// that fails while another one is being quiet still says why; the
/// process-wide hook is installed once, on first use, so later
/// allocation counts do not see it.
pub struct QuietPanics(());

impl QuietPanics {
    /// Starts silencing this thread's panics.
    pub fn new() -> Self {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(Cell::get) {
                    default(info);
                }
            }));
        });
        QUIET.with(|q| q.set(true));
        QuietPanics(())
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(false));
    }
}

/// Live allocations (allocs - frees) right now. Clears this thread's event
/// log first, whose strings would otherwise count.
/// Counts this thread's allocations and frees only: use it where the
/// objects live and die on the test's own thread.
pub fn live_allocations() -> isize {
    take_log();
    thread_allocs() as isize - THREAD_FREES.with(Cell::get) as isize
}

/// Allocations made by this thread while running `f`.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = thread_allocs();
    f();
    thread_allocs() - before
}

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Appends an event to this thread's log.
pub fn log(event: impl Into<String>) {
    LOG.with(|l| l.borrow_mut().push(event.into()));
}

/// Takes this thread's log.
pub fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// A leaf object that records its init and finalize with its tag.
#[derive(QomObject)]
#[qom(name = "test-leaf")]
pub struct Leaf {
    parent: ParentField<Object>,
    pub tag: Prop<String>,
}

impl ObjectImpl for Leaf {
    fn init(&self) {
        log("init leaf");
    }
    fn finalize(&self) {
        let tag = self.canonical_path().unwrap_or_else(|| self.tag.get());
        log(format!("finalize leaf {tag}"));
    }
}

/// A plain field whose drop is recorded.
pub struct Noisy(pub &'static str);

impl Default for Noisy {
    fn default() -> Self {
        Noisy("noisy")
    }
}

impl Drop for Noisy {
    fn drop(&mut self) {
        log(format!("drop {}", self.0));
    }
}

/// An abstract base with its own hooks.
#[derive(QomObject)]
#[qom(name = "test-base", abstract)]
pub struct Base {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub base_leaf: Leaf,
}

impl ObjectImpl for Base {
    fn init(&self) {
        log("init base");
    }
    fn finalize(&self) {
        log("finalize base");
    }
}

/// A container: plain field, embedded child and array, owned child.
#[derive(QomObject)]
#[qom(name = "test-board", parent = Base)]
pub struct Board {
    parent: ParentField<Base>,
    pub noisy: Noisy,
    #[child(embedded)]
    pub uart: Leaf,
    #[child(embedded)]
    pub timers: [Leaf; 3],
    #[child(owned)]
    pub companion: Owned<Leaf>,
    #[property(default = 4, doc = "number of ports")]
    pub num_ports: Prop<u32>,
}

impl ObjectImpl for Board {
    fn init(&self) {
        log("init board");
    }
    fn finalize(&self) {
        // Children are still usable here.
        assert_eq!(self.uart.type_name(), "test-leaf");
        log("finalize board");
    }
}

/// Sixteen embedded leaves, for the one-allocation claim.
#[derive(QomObject)]
#[qom(name = "test-sixteen")]
pub struct Sixteen {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub leaves: [Plain; 16],
}
impl ObjectImpl for Sixteen {}

/// A leaf without hooks.
#[derive(QomObject)]
#[qom(name = "test-plain")]
pub struct Plain {
    parent: ParentField<Object>,
}
impl ObjectImpl for Plain {}

/// An embedded container (nested embedding).
#[derive(QomObject)]
#[qom(name = "test-nested")]
pub struct Nested {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub inner: Board,
}
impl ObjectImpl for Nested {}

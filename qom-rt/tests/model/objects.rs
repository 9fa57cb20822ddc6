//! The objects the model test drives, the hooks that log what they see,
//! and the allocator that tells their allocations apart.
//!
//! Composition, three levels deep below a board, with embedded and owned
//! children at each level, and a parent type (`Base`) with hooks,
//! children and properties of its own:
//!
//! ```text
//! Board : Base                      (standalone; align 512)
//!   Base level:  core: Part (embedded), aux: Owned<Unit>
//!   Board level: units: [Unit; 2] (embedded), extra: Owned<Rack>
//! Rack   (align 256): unit: Unit (embedded), spare: Owned<Part>
//! Unit   (align 128): parts: [Part; 2] (embedded)   -- also standalone
//! Part   (align 64)
//! ```
//!
//! A standalone `Unit` has no owned child anywhere, so it is born
//! unshared: its drops and teardowns take the runtime's fast paths.

use qom_rt::prelude::*;
use qom_rt::{LifeState, ObjectHeader, PropertyGuard};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

// ---------------------------------------------------------------- the log

/// What the hooks (and the racing threads) saw, in order, each entry
/// marked with whether the worker thread logged it.
static LOG: Mutex<Vec<(bool, String)>> = Mutex::new(Vec::new());

thread_local! {
    static ON_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the worker in the log.
pub fn mark_worker() {
    ON_WORKER.with(|w| w.set(true));
}

/// Appends to the log.
pub fn log(text: String) {
    let worker = ON_WORKER.with(Cell::get);
    LOG.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((worker, text));
}

/// Takes the log, split by thread: `[main, worker]`.
pub fn take_log() -> [Vec<String>; 2] {
    let entries = std::mem::take(&mut *LOG.lock().unwrap_or_else(|e| e.into_inner()));
    let mut out = [Vec::new(), Vec::new()];
    for (worker, text) in entries {
        out[usize::from(worker)].push(text);
    }
    out
}

/// Where the test keeps an object's tag (`b3.units[1].parts[0]`), if it
/// is one of ours.
pub fn tag_cell(object: &Object) -> Option<&Prop<String>> {
    None.or_else(|| object.downcast::<Base>().map(|o| &o.tag))
        .or_else(|| object.downcast::<Rack>().map(|o| &o.tag))
        .or_else(|| object.downcast::<Unit>().map(|o| &o.tag))
        .or_else(|| object.downcast::<Part>().map(|o| &o.tag))
}

/// An object's tag, or its type name if it has none (a container).
pub fn tag_of(object: &Object) -> String {
    tag_cell(object).map_or_else(|| object.type_name().to_string(), Prop::get)
}

/// An object's address, for the init log (tags are given after `new`).
pub fn address(header: &ObjectHeader) -> usize {
    core::ptr::from_ref(header).addr()
}

fn init_hook(level: &str, object: &impl ObjectType) {
    log(format!(
        "init {level}:{} @{:x}",
        object.type_name(),
        address(object.header())
    ));
}

/// What a finalize hook sees: its type (the level's own, since parent
/// levels run as the parent type), its container (never reachable once
/// finalize has begun), and how many of the level's declared children are
/// still live (all of them: they are released after the hook).
fn finalize_hook(
    level: &str,
    object: &impl ObjectType,
    tag: &Prop<String>,
    kids: &[&ObjectHeader],
) {
    // Only whether it answers: a container that did would be finalizing,
    // its fields possibly dropped.
    let up = match object.container::<Object>() {
        Some(_) => "reachable",
        None => "none",
    };
    let live = kids.iter().filter(|k| k.state() == LifeState::Live).count();
    log(format!(
        "fin {level}:{} {} up={up} kids={live}/{}",
        object.type_name(),
        tag.get(),
        kids.len()
    ));
}

// ---------------------------------------------------------------- types

/// The leaf.
#[derive(QomObject)]
#[qom(name = "model-part")]
#[repr(align(64))]
pub struct Part {
    parent: ParentField<Object>,
    pub tag: Prop<String>,
}
impl ObjectImpl for Part {
    fn init(&self) {
        init_hook("Part", self);
    }
    fn finalize(&self) {
        finalize_hook("Part", self, &self.tag, &[]);
    }
}

/// Two embedded parts; created standalone too.
#[derive(QomObject)]
#[qom(name = "model-unit")]
#[repr(align(128))]
pub struct Unit {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub parts: [Part; 2],
    pub tag: Prop<String>,
}
impl ObjectImpl for Unit {
    fn init(&self) {
        init_hook("Unit", self);
    }
    fn finalize(&self) {
        let kids = [self.parts[0].header(), self.parts[1].header()];
        finalize_hook("Unit", self, &self.tag, &kids);
    }
}

/// An embedded unit and an owned part.
#[derive(QomObject)]
#[qom(name = "model-rack")]
#[repr(align(256))]
pub struct Rack {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub unit: Unit,
    #[child(owned)]
    pub spare: Owned<Part>,
    pub tag: Prop<String>,
}
impl ObjectImpl for Rack {
    fn init(&self) {
        init_hook("Rack", self);
    }
    fn finalize(&self) {
        let kids = [self.unit.header(), self.spare.header()];
        finalize_hook("Rack", self, &self.tag, &kids);
    }
}

/// The parent type of `Board`: hooks, an embedded and an owned child,
/// properties (a guard refuses every change but `locked`'s while locked)
/// and a link.
#[derive(QomObject)]
#[qom(name = "model-base", abstract, interfaces(PropertyGuard))]
pub struct Base {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub core: Part,
    #[child(owned)]
    pub aux: Owned<Unit>,
    #[property(default = 1)]
    pub level: Prop<u8>,
    #[property]
    pub locked: Prop<bool>,
    #[property]
    pub peer: Link<Unit>,
    pub tag: Prop<String>,
}
impl ObjectImpl for Base {
    fn init(&self) {
        init_hook("Base", self);
    }
    fn finalize(&self) {
        let kids = [self.core.header(), self.aux.header()];
        finalize_hook("Base", self, &self.tag, &kids);
    }
}
impl PropertyGuard for Base {
    fn check_set(&self, property: &str) -> Result<(), String> {
        match self.locked.get() && property != "locked" {
            true => Err("the board is locked".to_string()),
            false => Ok(()),
        }
    }
}

/// The top of the composition.
#[derive(QomObject)]
#[qom(name = "model-board")]
#[repr(align(512))]
pub struct Board {
    parent: ParentField<Base>,
    #[child(embedded)]
    pub units: [Unit; 2],
    #[child(owned)]
    pub extra: Owned<Rack>,
}
impl ObjectImpl for Board {
    fn init(&self) {
        init_hook("Board", self);
    }
    fn finalize(&self) {
        let kids = [
            self.units[0].header(),
            self.units[1].header(),
            self.extra.header(),
        ];
        finalize_hook("Board", self, &self.parent.tag, &kids);
    }
}

// ---------------------------------------------------------------- allocations

/// An owned child's allocation: a word for its owner, then the object
/// (`qom-rt/src/header.rs`, `owned_child_layout`); and the object's offset.
pub fn owned_child_layout<T>() -> (Layout, usize) {
    Layout::new::<usize>()
        .extend(Layout::new::<T>())
        .expect("small")
}

/// The allocations the model predicts, told apart by layout: a kind is
/// kept in the low bits of the address (every one is 64-aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    Board = 1,
    Unit = 2,
    OwnedUnit = 3,
    OwnedRack = 4,
    OwnedPart = 5,
}

impl Allocation {
    const ALL: [Allocation; 5] = [
        Allocation::Board,
        Allocation::Unit,
        Allocation::OwnedUnit,
        Allocation::OwnedRack,
        Allocation::OwnedPart,
    ];

    fn layout(self) -> Layout {
        match self {
            Allocation::Board => Layout::new::<Board>(),
            Allocation::Unit => Layout::new::<Unit>(),
            Allocation::OwnedUnit => owned_child_layout::<Unit>().0,
            Allocation::OwnedRack => owned_child_layout::<Rack>().0,
            Allocation::OwnedPart => owned_child_layout::<Part>().0,
        }
    }

    /// The entry this allocation has in the table while it is live.
    pub fn entry(self, start: usize) -> usize {
        start | self as usize
    }
}

/// Layouts nothing else in this test asks for (alignments of 64 and
/// more): checked once.
pub fn check_layouts_are_distinct() {
    for (i, a) in Allocation::ALL.iter().enumerate() {
        assert!(a.layout().align() >= 64);
        for b in &Allocation::ALL[i + 1..] {
            assert_ne!(a.layout(), b.layout(), "{a:?} and {b:?}");
        }
    }
}

const TABLE_SIZE: usize = 1024;
/// Live tracked allocations (`Allocation::entry`), 0 for a free slot.
static TABLE: [AtomicUsize; TABLE_SIZE] = [const { AtomicUsize::new(0) }; TABLE_SIZE];
/// Frees of a tracked layout at an address not recorded with that layout,
/// and allocations the table had no room for.
pub static MISMATCHES: AtomicUsize = AtomicUsize::new(0);

fn tracked(layout: Layout) -> Option<Allocation> {
    if layout.align() < 64 {
        return None;
    }
    Allocation::ALL.into_iter().find(|a| a.layout() == layout)
}

/// Every tracked allocation live now.
pub fn live_allocations() -> BTreeSet<usize> {
    TABLE
        .iter()
        .map(|slot| slot.load(Relaxed))
        .filter(|e| *e != 0)
        .collect()
}

/// Replaces `from` by `to` in a table slot (a load first: most slots
/// hold something else).
fn claim(slot: &AtomicUsize, from: usize, to: usize) -> bool {
    slot.load(Relaxed) == from && slot.compare_exchange(from, to, Relaxed, Relaxed).is_ok()
}

/// Forwards to the system allocator, recording the tracked layouts.
pub struct Watch;

// SAFETY: forwards to the system allocator unchanged; the table is only
// bookkeeping.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        let ptr = unsafe { System.alloc(layout) };
        if let (Some(kind), false) = (tracked(layout), ptr.is_null()) {
            let entry = kind.entry(ptr.addr());
            // Relaxed: the table is read by the test thread after it
            // synchronised with every thread that allocated (a join).
            if !TABLE.iter().any(|slot| claim(slot, 0, entry)) {
                MISMATCHES.fetch_add(1, Relaxed);
            }
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(kind) = tracked(layout) {
            let entry = kind.entry(ptr.addr());
            if !TABLE.iter().any(|slot| claim(slot, entry, 0)) {
                MISMATCHES.fetch_add(1, Relaxed);
            }
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

//! Model-based random testing (proptest's state machines): random
//! sequences of create / reference an embedded or owned child / clone /
//! drop in any order / attach to the tree / unparent / set a property
//! (valid or not) / downcast, run against the runtime and against a small
//! reference model of who is live. After every step: finalize ran exactly
//! once for exactly the objects the model says, in the order the design document (`book/src/design.md`)
//! fixes; the number of live allocations is what the model says; an
//! invalid property set changed nothing. At the end nothing leaks.
//!
//! `PROPTEST_CASES=N` sets the number of sequences (each up to 60 steps);
//! the default is small enough for CI and Miri.

use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use qom_rt::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

const LEAVES: usize = 3;

thread_local! {
    static EVENTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn event(e: String) {
    EVENTS.with(|v| v.borrow_mut().push(e));
}

fn take_events() -> Vec<String> {
    EVENTS.with(|v| std::mem::take(&mut *v.borrow_mut()))
}

/// Counts live allocations of a board's size (one per board, shared by
/// its embedded leaves) and of a companion's.
struct Watch;
static LIVE_BOARDS: AtomicIsize = AtomicIsize::new(0);
static LIVE_COMPANIONS: AtomicIsize = AtomicIsize::new(0);

/// Operations applied and sequences run, reported at the end of a run.
static OPS: AtomicIsize = AtomicIsize::new(0);
static SEQUENCES: AtomicIsize = AtomicIsize::new(0);

/// Board and companion have alignments nothing else here asks for, so
/// their allocations are told apart by layout alone.
fn counter(layout: Layout) -> Option<&'static AtomicIsize> {
    if layout == Layout::new::<Board>() {
        Some(&LIVE_BOARDS)
    } else if layout == owned_child_layout::<Companion>() {
        Some(&LIVE_COMPANIONS)
    } else {
        None
    }
}

/// An owned child's allocation: a word for its owner, then the object.
fn owned_child_layout<T>() -> Layout {
    let (layout, _) = Layout::new::<usize>()
        .extend(Layout::new::<T>())
        .expect("small");
    layout
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(c) = counter(layout) {
            c.fetch_add(1, Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(c) = counter(layout) {
            c.fetch_sub(1, Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

#[derive(QomObject)]
#[qom(name = "model-leaf")]
struct Leaf {
    parent: ParentField<Object>,
    tag: Prop<String>,
}
impl ObjectImpl for Leaf {
    fn finalize(&self) {
        event(format!("leaf {}", self.tag.get()));
    }
}

#[derive(QomObject)]
#[qom(name = "model-companion")]
#[repr(align(256))]
struct Companion {
    parent: ParentField<Object>,
    tag: Prop<String>,
}
impl ObjectImpl for Companion {
    fn finalize(&self) {
        event(format!("companion {}", self.tag.get()));
    }
}

#[derive(QomObject)]
#[qom(name = "model-board")]
#[repr(align(512))]
struct Board {
    parent: ParentField<Object>,
    #[child(embedded)]
    leaves: [Leaf; LEAVES],
    #[child(owned)]
    companion: Owned<Companion>,
    #[property(default = 1)]
    level: Prop<u8>,
    id: Prop<u32>,
}
impl ObjectImpl for Board {
    fn finalize(&self) {
        event(format!("board {}", self.id.get()));
    }
}

/// What a handle refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Board(usize),
    Leaf(usize, usize),
    Companion(usize),
}

#[derive(Clone, Debug)]
enum Op {
    Create { by_name: bool },
    RefLeaf { handle: usize, leaf: usize },
    RefCompanion { handle: usize },
    Clone { handle: usize },
    Drop { handle: usize },
    Attach { handle: usize },
    Unparent { board: usize },
    SetLevel { handle: usize, value: String },
    Downcast { handle: usize },
}

/// The reference model.
#[derive(Clone, Debug, Default)]
struct Model {
    handles: Vec<Target>,
    boards: Vec<BoardModel>,
}

#[derive(Clone, Debug, Default)]
struct BoardModel {
    attached: bool,
    finalized: bool,
    leaves_finalized: [bool; LEAVES],
    companion_finalized: bool,
    level: u8,
}

impl Model {
    fn refs(&self, t: Target) -> usize {
        self.handles.iter().filter(|h| **h == t).count()
    }

    /// Finalizations the current state implies that have not happened,
    /// in the order the design document fixes; marks them done.
    fn settle(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        for b in 0..self.boards.len() {
            let board_refs = self.refs(Target::Board(b));
            let m = &self.boards[b];
            if !m.finalized && board_refs == 0 && !m.attached {
                // Container hook, then children in reverse declaration
                // order: the owned companion, then leaves 2, 1, 0.
                events.push(format!("board {b}"));
                self.boards[b].finalized = true;
                if self.refs(Target::Companion(b)) == 0 {
                    events.push(format!("companion {b}"));
                    self.boards[b].companion_finalized = true;
                }
                for l in (0..LEAVES).rev() {
                    if self.refs(Target::Leaf(b, l)) == 0 {
                        events.push(format!("leaf {b}.{l}"));
                        self.boards[b].leaves_finalized[l] = true;
                    }
                }
            }
        }
        events
    }

    fn live_boards(&self) -> isize {
        // The allocation lives until the board and every declared child
        // (the embedded leaves and the owned companion) finalized.
        self.boards
            .iter()
            .filter(|m| {
                !(m.finalized && m.companion_finalized && m.leaves_finalized.iter().all(|f| *f))
            })
            .count() as isize
    }

    fn live_companions(&self) -> isize {
        self.boards
            .iter()
            .filter(|m| !m.companion_finalized)
            .count() as isize
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let create = any::<bool>().prop_map(|by_name| Op::Create { by_name });
        if state.handles.is_empty() {
            return create.boxed();
        }
        let n = state.handles.len();
        let b = state.boards.len();
        // Operations on a board pick among the handles that are boards.
        let boards: Vec<usize> = (0..n)
            .filter(|h| matches!(state.handles[*h], Target::Board(_)))
            .collect();
        let any_handle = 0..n;
        let mut ops = vec![
            (2, create.boxed()),
            (
                2,
                any_handle
                    .clone()
                    .prop_map(|handle| Op::Clone { handle })
                    .boxed(),
            ),
            (
                4,
                any_handle
                    .clone()
                    .prop_map(|handle| Op::Drop { handle })
                    .boxed(),
            ),
            (
                1,
                any_handle
                    .prop_map(|handle| Op::Downcast { handle })
                    .boxed(),
            ),
            (1, (0..b).prop_map(|board| Op::Unparent { board }).boxed()),
        ];
        if !boards.is_empty() {
            let pick = proptest::sample::select(boards);
            let values = proptest::sample::select(vec!["3", "0x10", "255", "256", "-1", "", "x"]);
            ops.push((
                2,
                (pick.clone(), 0..LEAVES)
                    .prop_map(|(handle, leaf)| Op::RefLeaf { handle, leaf })
                    .boxed(),
            ));
            ops.push((
                1,
                pick.clone()
                    .prop_map(|handle| Op::RefCompanion { handle })
                    .boxed(),
            ));
            ops.push((
                1,
                pick.clone()
                    .prop_map(|handle| Op::Attach { handle })
                    .boxed(),
            ));
            ops.push((
                1,
                (pick, values)
                    .prop_map(|(handle, v)| Op::SetLevel {
                        handle,
                        value: v.to_string(),
                    })
                    .boxed(),
            ));
        }
        proptest::strategy::Union::new_weighted(ops).boxed()
    }

    fn preconditions(state: &Model, op: &Op) -> bool {
        let handle_ok = |h: usize| h < state.handles.len();
        let board_handle = |h: usize| handle_ok(h) && matches!(state.handles[h], Target::Board(_));
        match op {
            Op::Create { .. } => true,
            Op::RefLeaf { handle, .. }
            | Op::RefCompanion { handle }
            | Op::Attach { handle }
            | Op::SetLevel { handle, .. } => board_handle(*handle),
            Op::Clone { handle } | Op::Drop { handle } | Op::Downcast { handle } => {
                handle_ok(*handle)
            }
            Op::Unparent { board } => *board < state.boards.len(),
        }
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        match op {
            Op::Create { .. } => {
                state.boards.push(BoardModel {
                    level: 1,
                    ..Default::default()
                });
                state.handles.push(Target::Board(state.boards.len() - 1));
            }
            Op::RefLeaf { handle, leaf } => {
                if let Target::Board(b) = state.handles[*handle] {
                    state.handles.push(Target::Leaf(b, *leaf));
                }
            }
            Op::RefCompanion { handle } => {
                if let Target::Board(b) = state.handles[*handle] {
                    state.handles.push(Target::Companion(b));
                }
            }
            Op::Clone { handle } => state.handles.push(state.handles[*handle]),
            Op::Drop { handle } => {
                let t = state.handles.remove(*handle);
                if let Target::Leaf(b, l) = t {
                    if state.boards[b].finalized && state.refs(t) == 0 {
                        state.boards[b].leaves_finalized[l] = true;
                    }
                }
                if let Target::Companion(b) = t {
                    if state.boards[b].finalized && state.refs(t) == 0 {
                        state.boards[b].companion_finalized = true;
                    }
                }
            }
            Op::Attach { handle } => {
                if let Target::Board(b) = state.handles[*handle] {
                    state.boards[b].attached = true;
                }
            }
            Op::Unparent { board } => state.boards[*board].attached = false,
            Op::SetLevel { handle, value } => {
                if let Target::Board(b) = state.handles[*handle] {
                    let parsed = match value.strip_prefix("0x") {
                        Some(hex) => u8::from_str_radix(hex, 16).ok(),
                        None => value.parse::<u8>().ok(),
                    };
                    if let Some(v) = parsed {
                        state.boards[b].level = v;
                    }
                }
            }
            Op::Downcast { .. } => {}
        }
        state.settle();
        state
    }
}

/// The system under test: real handles, parallel to the model's.
struct Sut {
    handles: Vec<Handle>,
    top: Owned<Object>,
}

enum Handle {
    Board(Owned<Board>),
    Leaf(Owned<Leaf>),
    Companion(Owned<Companion>),
}

impl Handle {
    fn object(&self) -> &Object {
        match self {
            Handle::Board(o) => o.upcast(),
            Handle::Leaf(o) => o.upcast(),
            Handle::Companion(o) => o.upcast(),
        }
    }
}

struct Runner;

impl StateMachineTest for Runner {
    /// The real handles, and the model state they were last checked
    /// against (to diff with the next state).
    type SystemUnderTest = (Sut, Model);
    type Reference = Reference;

    fn init_test(_: &Model) -> (Sut, Model) {
        take_events();
        let top = Owned::<qom_rt::Container>::new().into_object();
        (
            Sut {
                handles: Vec::new(),
                top,
            },
            Model::default(),
        )
    }

    fn apply((mut sut, before): (Sut, Model), after: &Model, op: Op) -> (Sut, Model) {
        OPS.fetch_add(1, Relaxed);
        let board_of = |sut: &Sut, h: usize| match &sut.handles[h] {
            Handle::Board(b) => b.clone(),
            _ => unreachable!("precondition: a board handle"),
        };
        match &op {
            Op::Create { by_name } => {
                let board = if *by_name {
                    let object = qom_rt::new_by_name("model-board").unwrap();
                    object.downcast_owned::<Board>().ok().unwrap()
                } else {
                    Owned::<Board>::new()
                };
                let id = before.boards.len();
                board.id.set(id as u32);
                for (l, leaf) in board.leaves.iter().enumerate() {
                    leaf.tag.set(format!("{id}.{l}"));
                }
                board.companion.tag.set(id.to_string());
                sut.handles.push(Handle::Board(board));
            }
            Op::RefLeaf { handle, leaf } => {
                let board = board_of(&sut, *handle);
                sut.handles
                    .push(Handle::Leaf(Owned::from(&board.leaves[*leaf])));
            }
            Op::RefCompanion { handle } => {
                let board = board_of(&sut, *handle);
                sut.handles.push(Handle::Companion(board.companion.clone()));
            }
            Op::Clone { handle } => {
                let h = match &sut.handles[*handle] {
                    Handle::Board(o) => Handle::Board(o.clone()),
                    Handle::Leaf(o) => Handle::Leaf(o.clone()),
                    Handle::Companion(o) => Handle::Companion(o.clone()),
                };
                sut.handles.push(h);
            }
            Op::Drop { handle } => drop(sut.handles.remove(*handle)),
            Op::Attach { handle } => {
                let board = board_of(&sut, *handle);
                let name = format!("b{}", board.id.get());
                // Attaching an attached board is refused (already
                // parented); the model stays attached either way.
                let _ = sut.top.add_child(&name, board);
            }
            Op::Unparent { board } => {
                if let Ok(b) = sut.top.resolve(&format!("b{board}")) {
                    b.unparent();
                }
            }
            Op::SetLevel { handle, value } => {
                let board = board_of(&sut, *handle);
                let old = board.get_property("level").unwrap();
                if board.set_property("level", value).is_err() {
                    assert_eq!(
                        board.get_property("level").unwrap(),
                        old,
                        "an invalid set changed nothing"
                    );
                }
                let b = board.id.get() as usize;
                assert_eq!(
                    board.level.get(),
                    after.boards[b].level,
                    "level after setting {value:?}"
                );
            }
            Op::Downcast { handle } => {
                let object = sut.handles[*handle].object();
                let is_board = object.downcast::<Board>().is_some();
                assert_eq!(is_board, matches!(sut.handles[*handle], Handle::Board(_)));
                assert!(
                    object.downcast::<Leaf>().is_some()
                        == matches!(sut.handles[*handle], Handle::Leaf(_))
                );
            }
        }
        assert_eq!(
            take_events(),
            events_between(&before, after),
            "finalize events after {op:?}"
        );
        assert_eq!(
            LIVE_BOARDS.load(Relaxed),
            after.live_boards(),
            "board allocations after {op:?}"
        );
        assert_eq!(
            LIVE_COMPANIONS.load(Relaxed),
            after.live_companions(),
            "companion allocations after {op:?}"
        );
        (sut, after.clone())
    }

    fn check_invariants((sut, model): &(Sut, Model), _: &Model) {
        for (h, t) in sut.handles.iter().zip(&model.handles) {
            assert_eq!(
                h.object().header().state(),
                qom_rt::LifeState::Live,
                "{t:?} is referenced"
            );
        }
    }

    fn teardown((sut, _): (Sut, Model), _: Model) {
        drop(sut);
        take_events();
        assert_eq!(LIVE_BOARDS.load(Relaxed), 0, "no board leaked");
        assert_eq!(LIVE_COMPANIONS.load(Relaxed), 0, "no companion leaked");
        let n = SEQUENCES.fetch_add(1, Relaxed) + 1;
        if n as u32 == cases() {
            eprintln!(
                "model: {n} sequences, {} operations, all matched the model",
                OPS.load(Relaxed)
            );
        }
    }
}

/// The finalize events between two model states, in order.
fn events_between(before: &Model, after: &Model) -> Vec<String> {
    // Recompute by replaying `settle` semantics: a board finalizing emits
    // its events in the design document's order; a dropped last child reference
    // emits that child's event.
    let mut events = Vec::new();
    for (b, (old, new)) in before.boards.iter().zip(&after.boards).enumerate() {
        if !old.finalized && new.finalized {
            events.push(format!("board {b}"));
            if new.companion_finalized {
                events.push(format!("companion {b}"));
            }
            for l in (0..LEAVES).rev() {
                if new.leaves_finalized[l] {
                    events.push(format!("leaf {b}.{l}"));
                }
            }
        } else {
            if !old.companion_finalized && new.companion_finalized {
                events.push(format!("companion {b}"));
            }
            for l in 0..LEAVES {
                if !old.leaves_finalized[l] && new.leaves_finalized[l] {
                    events.push(format!("leaf {b}.{l}"));
                }
            }
        }
    }
    events
}

/// `PROPTEST_CASES` if set, else a size fit for CI (and smaller for Miri).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(miri) { 4 } else { 64 })
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn runtime_matches_the_model(sequential 1..60 => Runner);
}

//! Model-based random testing (proptest's state machines): random
//! sequences of operations run against the runtime and against a
//! reference model written from the design document
//! (`model/reference.rs`), on the objects of `model/objects.rs` -- boards
//! three levels deep with embedded and owned children at every level, a
//! parent type with hooks, children and properties of its own, and
//! standalone units that take the runtime's unshared fast paths.
//!
//! Operations: create (`Owned::new` or `new_by_name`); clone, drop and
//! escape (`Owned::from(&object.child)`, or the child resolved by name)
//! in any order; `add_child` of any object under any other or the top
//! container (valid, cycles, duplicates, bad names, declared children);
//! `unparent` from a handle or after finding the object by path; property
//! sets from strings and typed, valid and invalid, on a guarded board;
//! link sets by absolute and partial path and typed, of the right type or
//! not; every query (`canonical_path`, `..` and named walks,
//! `resolve_path`, `container::<T>()`, `children()`, properties, links,
//! casts, `qom_tree`); any of them on a worker thread; and races: a drop
//! or an unparent on this thread against a drop, a `container()` or a
//! link read on a worker thread.
//!
//! Checked after every operation: its result (refusals by kind); every
//! hook that ran, in order, on which thread and with what it saw (init:
//! parent level first, children before their container; finalize: each
//! level's hook with its children still live and its own container out of
//! reach, children released in reverse declaration order, dynamic
//! children after); for a race, that what each thread saw is what one
//! order of its steps gives; the exact set of live allocations (address
//! and layout) against the model's; every handle's strong count. An
//! invalid set changes nothing (the properties are read back). At the end
//! every handle is dropped and the top container released, with the same
//! checks, and nothing is left.
//!
//! `PROPTEST_CASES=N` sets the number of sequences (each up to 100
//! operations); the default is small enough for CI and Miri. The
//! nightly-style long run (over a million operations), whose last line
//! gives the counts:
//!
//! ```text
//! PROPTEST_CASES=25000 cargo test --release -p qom-rt --test model -- --nocapture
//! ```

#[path = "model/objects.rs"]
mod objects;
#[path = "model/reference.rs"]
mod reference;

use objects::*;
use proptest::prelude::*;
use proptest::sample::select;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};
use qom_rt::prelude::*;
use qom_rt::{ChildEntryKind, Error, LifeState};
use reference::*;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Barrier;

#[global_allocator]
static GLOBAL: Watch = Watch;

/// Counts reported at the end of a run.
static SEQUENCES: AtomicUsize = AtomicUsize::new(0);
static OPERATIONS: AtomicUsize = AtomicUsize::new(0);
static ON_WORKER: AtomicUsize = AtomicUsize::new(0);
static RACES: AtomicUsize = AtomicUsize::new(0);
/// Races whose outcome depended on the order, by the main side's place
/// in the order that matched: before the worker's steps, between them,
/// after them.
static ORDERS_SEEN: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

/// A test's handle: a strong reference of the object's own type.
enum Handle {
    Board(Owned<Board>),
    Unit(Owned<Unit>),
    Rack(Owned<Rack>),
    Part(Owned<Part>),
}

/// `$e` with `$o` the handle's `Owned<_>`, whatever its type.
macro_rules! with_owned {
    ($handle:expr, $o:ident => $e:expr) => {
        match $handle {
            Handle::Board($o) => $e,
            Handle::Unit($o) => $e,
            Handle::Rack($o) => $e,
            Handle::Part($o) => $e,
        }
    };
}

impl Handle {
    fn object(&self) -> &Object {
        with_owned!(self, o => o.upcast())
    }

    /// Typed again, by the object's dynamic type.
    fn typed(object: Owned<Object>) -> Handle {
        let object = match object.downcast_owned::<Board>() {
            Ok(o) => return Handle::Board(o),
            Err(o) => o,
        };
        let object = match object.downcast_owned::<Unit>() {
            Ok(o) => return Handle::Unit(o),
            Err(o) => o,
        };
        match object.downcast_owned::<Rack>() {
            Ok(o) => Handle::Rack(o),
            Err(o) => Handle::Part(o.downcast_owned::<Part>().expect("a model type")),
        }
    }

    /// A clone, as `Owned<Object>`.
    fn to_object(&self) -> Owned<Object> {
        with_owned!(self, o => o.clone().into_object())
    }

    /// `Owned::from` on declared child `i`, in the order walks list them
    /// (the parent type's children first).
    fn escape(&self, i: usize) -> Handle {
        match self {
            Handle::Board(b) => {
                let base: &Base = b.upcast();
                match i {
                    0 => Handle::Part(Owned::from(&base.core)),
                    1 => Handle::Unit(Owned::from(&*base.aux)),
                    2 | 3 => Handle::Unit(Owned::from(&b.units[i - 2])),
                    _ => Handle::Rack(Owned::from(&*b.extra)),
                }
            }
            Handle::Unit(u) => Handle::Part(Owned::from(&u.parts[i])),
            Handle::Rack(r) if i == 0 => Handle::Unit(Owned::from(&r.unit)),
            Handle::Rack(r) => Handle::Part(Owned::from(&*r.spare)),
            Handle::Part(_) => unreachable!("precondition: a part declares nothing"),
        }
    }

    /// Sets `holder`'s `peer` to this handle's object, typed with the
    /// handle's own type (only a unit is of the link's type).
    fn set_as_peer(&self, holder: &Object) -> qom_rt::Result<()> {
        with_owned!(self, o => holder.set_property_typed("peer", Some(o.clone())))
    }

    /// The objects of a root's composition in the model's slot order
    /// (`reference::Shape::slots`), each with the table entry of the
    /// allocation it starts, if it starts one.
    fn composition(&self) -> Vec<(&Object, Option<usize>)> {
        fn standalone<T: ObjectType>(kind: Allocation, o: &T) -> Option<usize> {
            Some(kind.entry(core::ptr::from_ref(o).addr()))
        }
        fn owned<T: ObjectType>(kind: Allocation, o: &T) -> Option<usize> {
            let (_, offset) = owned_child_layout::<T>();
            Some(kind.entry(core::ptr::from_ref(o).addr() - offset))
        }
        fn unit<'a>(u: &'a Unit, alloc: Option<usize>, out: &mut Vec<(&'a Object, Option<usize>)>) {
            out.push((u.upcast(), alloc));
            out.extend(u.parts.iter().map(|p| (p.upcast(), None)));
        }
        let mut out = Vec::new();
        match self {
            Handle::Board(b) => {
                let base: &Base = b.upcast();
                out.push((b.upcast(), standalone(Allocation::Board, &**b)));
                out.push((base.core.upcast(), None));
                unit(
                    &base.aux,
                    owned(Allocation::OwnedUnit, &*base.aux),
                    &mut out,
                );
                for u in &b.units {
                    unit(u, None, &mut out);
                }
                out.push((b.extra.upcast(), owned(Allocation::OwnedRack, &*b.extra)));
                unit(&b.extra.unit, None, &mut out);
                let spare = &*b.extra.spare;
                out.push((spare.upcast(), owned(Allocation::OwnedPart, spare)));
            }
            Handle::Unit(u) => unit(u, standalone(Allocation::Unit, &**u), &mut out),
            Handle::Rack(_) | Handle::Part(_) => unreachable!("only boards and units are created"),
        }
        out
    }
}

fn refusal(e: Error) -> Refusal {
    match e {
        Error::InvalidName { .. } => Refusal::InvalidName,
        Error::AlreadyParented { .. } => Refusal::AlreadyParented,
        Error::Cycle { .. } => Refusal::Cycle,
        Error::DuplicateChild { .. } => Refusal::DuplicateChild,
        Error::UnknownProperty { .. } => Refusal::UnknownProperty,
        Error::InvalidValue { .. } => Refusal::InvalidValue,
        Error::PropertyLocked { .. } => Refusal::PropertyLocked,
        other => panic!("an error the model never expects: {other}"),
    }
}

/// Runs `f` on a new thread marked as the worker in the log.
fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            mark_worker();
            f()
        });
        worker
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn spin(n: u16) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

/// What a racing thread saw of an object it took a strong reference on
/// and held for `hold` spins: its tag, if it stayed live all along (a
/// reference taken on a finalizing object would see it not live, and its
/// fields may be gone, so they are not read then).
fn seen_while_held(object: Option<&Object>, hold: u16) -> String {
    let Some(object) = object else {
        return "none".to_string();
    };
    let live = || object.header().state() == LifeState::Live;
    let before = live();
    spin(hold);
    match before && live() {
        true => tag_of(object),
        false => "not live".to_string(),
    }
}

/// The system under test: the runtime's objects, held as the model says.
struct Sut {
    handles: Vec<Handle>,
    /// `/model`; taken when the sequence ends.
    top: Option<Owned<Object>>,
    /// The model state the runtime was last checked against.
    model: Model,
    /// Tags by object address, to read the init log (written before the
    /// objects have tags).
    tags: HashMap<usize, String>,
    /// Each root's allocations: (slot, table entry).
    allocations: Vec<Vec<(usize, usize)>>,
    /// Tracked allocations live before the sequence began (none, unless
    /// an earlier sequence failed).
    baseline: BTreeSet<usize>,
}

impl Drop for Sut {
    /// After a failed check too: the next sequence gets a fresh `/model`.
    fn drop(&mut self) {
        if let Some(top) = &self.top {
            top.unparent();
        }
    }
}

impl Sut {
    fn top(&self) -> &Object {
        self.top.as_ref().expect("until the sequence ends")
    }

    /// How an object reached by a walk is named in the model.
    fn name_of(&self, object: &Object) -> String {
        match core::ptr::eq(object, self.top()) {
            true => "top".to_string(),
            false => tag_of(object),
        }
    }

    /// Runs one operation; `before` and `after` are the model around it.
    fn run(&mut self, op: &Op, before: &Model, after: &Model) -> Result<(), Refusal> {
        let object = |h: usize| self.handles[h].object();
        match *op {
            Op::Create { shape, by_name } => {
                let handle = match (by_name, shape) {
                    (true, _) => Handle::typed(qom_rt::new_by_name(shape.type_name()).unwrap()),
                    (false, Shape::Board) => Handle::Board(Owned::new()),
                    (false, Shape::Unit) => Handle::Unit(Owned::new()),
                };
                let r = self.allocations.len();
                let mut allocations = Vec::new();
                for (s, (object, allocation)) in handle.composition().into_iter().enumerate() {
                    let tag = after.tag(Id::Obj(r, s));
                    self.tags.insert(address(object.header()), tag.clone());
                    tag_cell(object).expect("one of ours").set(tag);
                    allocations.extend(allocation.map(|entry| (s, entry)));
                }
                self.allocations.push(allocations);
                self.handles.push(handle);
            }
            Op::Clone { handle } => self
                .handles
                .push(Handle::typed(self.handles[handle].to_object())),
            Op::Drop { handle } => drop(self.handles.remove(handle)),
            Op::Escape {
                handle,
                child,
                by_path,
            } => {
                let children = before.declared(before.handles[handle]);
                let i = child % children.len();
                let escaped = match by_path {
                    true => {
                        Handle::typed(object(handle).resolve(before.name(children[i])).unwrap())
                    }
                    false => self.handles[handle].escape(i),
                };
                assert_eq!(tag_of(escaped.object()), before.tag(children[i]));
                self.handles.push(escaped);
            }
            Op::Attach {
                child,
                parent,
                name,
            } => {
                let parent = parent.map_or(self.top(), object);
                let child = self.handles[child].to_object();
                parent.add_child(name, child).map_err(refusal)?;
            }
            Op::Unparent { handle } => object(handle).unparent(),
            Op::UnparentByPath { root } => {
                let path = before.path(Id::Obj(root, 0)).expect("precondition");
                let found = self.top().resolve(&path[1..].join("/")).unwrap();
                assert_eq!(tag_of(&found), before.tag(Id::Obj(root, 0)));
                found.unparent();
            }
            Op::SetProperty {
                handle,
                name,
                value,
            } => {
                let result = object(handle).set_property(name, value);
                self.check_properties(handle, after);
                result.map_err(refusal)?;
            }
            Op::SetLevelTyped { handle, right_type } => {
                let result = match right_type {
                    true => object(handle).set_property_typed("level", TYPED_LEVEL),
                    false => object(handle).set_property_typed("level", u32::from(TYPED_LEVEL)),
                };
                self.check_properties(handle, after);
                result.map_err(refusal)?;
            }
            Op::SetLink { handle, value } => {
                let holder = object(handle);
                let result = match value {
                    LinkValue::Path { target, partial } => {
                        holder.set_property("peer", &before.link_text(target, partial))
                    }
                    LinkValue::Typed { target } => self.handles[target].set_as_peer(holder),
                    LinkValue::Empty => holder.set_property("peer", ""),
                    LinkValue::Clear => holder.set_property_typed("peer", None::<Owned<Unit>>),
                };
                self.check_properties(handle, after);
                result.map_err(refusal)?;
            }
            Op::Inspect { handle } => self.inspect(handle, before),
            Op::Tree => assert_eq!(qom_rt::qom_tree("/model").unwrap(), before.tree()),
            Op::Race {
                main,
                worker,
                skew,
                hold,
            } => self.race(main, worker, skew, hold, before),
        }
        Ok(())
    }

    /// Every query about a handle's object, against the model.
    fn inspect(&self, h: usize, model: &Model) {
        let id = model.handles[h];
        let object = self.handles[h].object();
        let what = model.tag(id);
        let kind = model.kind(id).expect("handles are on objects");
        assert_eq!(tag_of(object), what);
        assert_eq!(object.header().state(), LifeState::Live, "{what}");
        assert_eq!(object.type_name(), kind.type_name(), "{what}");
        assert_eq!(object.downcast::<Base>().is_some(), kind == Kind::Board);
        assert_eq!(object.downcast::<Board>().is_some(), kind == Kind::Board);
        assert_eq!(object.downcast::<Unit>().is_some(), kind == Kind::Unit);
        assert_eq!(object.downcast::<Rack>().is_some(), kind == Kind::Rack);
        assert_eq!(object.downcast::<Part>().is_some(), kind == Kind::Part);

        let path = model.path(id).map(|p| format!("/{}", p.join("/")));
        assert_eq!(object.canonical_path(), path, "canonical path of {what}");
        if let Some(path) = &path {
            let found = qom_rt::resolve_path(path).unwrap();
            assert_eq!(tag_of(&found), what, "resolve_path({path})");
        }
        let up = object.resolve("..");
        match model.dotdot(id) {
            Some((parent, _)) => {
                assert_eq!(
                    self.name_of(&up.unwrap()),
                    model.tag(parent),
                    "`..` of {what}"
                );
            }
            None => assert!(
                matches!(up, Err(Error::PathUnreachable { .. })),
                "`..` of {what}: {up:?}"
            ),
        }
        // Itself and its siblings, through `..`: only while what is above
        // is live. Live siblings first: a walk that wrongly went on into
        // a finalized container would reach them cleanly, and its owned
        // children's freed memory only after.
        if let Some((above, _)) = model.above(id) {
            let mut names: Vec<String> =
                model.listing(above).into_iter().map(|(n, ..)| n).collect();
            names.sort_by_key(|n| !model.child(above, n).is_some_and(|c| model.live(c)));
            for name in names {
                let found = object.resolve(&format!("../{name}")).ok();
                let expected = model.dotdot(id).and_then(|(up, _)| model.child(up, &name));
                assert_eq!(
                    found.map(|f| self.name_of(&f)),
                    expected.map(|e| model.tag(e)),
                    "`../{name}` from {what}"
                );
            }
        }

        let tag = |o: Option<Owned<Object>>| o.map(|o| tag_of(&o));
        let container = model.container(id);
        let container_of = |k: Kind| {
            container
                .filter(|c| model.kind(*c) == Some(k))
                .map(|c| model.tag(c))
        };
        assert_eq!(
            tag(object.container::<Object>()),
            container.map(|c| model.tag(c))
        );
        let base = object.container::<Base>().map(|c| c.tag.get());
        assert_eq!(
            base,
            container_of(Kind::Board),
            "container::<Base>() of {what}"
        );
        let unit = object.container::<Unit>().map(|c| c.tag.get());
        assert_eq!(
            unit,
            container_of(Kind::Unit),
            "container::<Unit>() of {what}"
        );
        let rack = object.container::<Rack>().map(|c| c.tag.get());
        assert_eq!(
            rack,
            container_of(Kind::Rack),
            "container::<Rack>() of {what}"
        );

        let children: Vec<_> = object
            .children()
            .into_iter()
            .map(|c| {
                let held = match c.kind {
                    ChildEntryKind::Embedded => "embedded",
                    ChildEntryKind::Owned => "owned",
                    ChildEntryKind::Dynamic => "dynamic",
                };
                (c.name, held, c.type_name)
            })
            .collect();
        assert_eq!(children, model.listing(id), "children of {what}");
        self.check_properties(h, model);
    }

    /// The handle's properties read back, as strings and typed.
    fn check_properties(&self, h: usize, model: &Model) {
        let id = model.handles[h];
        let object = self.handles[h].object();
        let kind = model.kind(id).expect("handles are on objects");
        assert_eq!(object.get_property("type").unwrap(), kind.type_name());
        let Some(expected) = model.properties(id) else {
            let level = object.get_property("level");
            assert!(matches!(level, Err(Error::UnknownProperty { .. })));
            return;
        };
        let read = ["level", "locked", "peer"].map(|p| object.get_property(p).unwrap());
        assert_eq!(read, expected, "properties of {}", model.tag(id));
        let base = object.downcast::<Base>().expect("a board");
        let peer = base.peer.get().map(|t| t.tag.get());
        assert_eq!(
            peer,
            model.link(id).map(|t| model.tag(t)),
            "link of {}",
            model.tag(id)
        );
        let typed: Option<Owned<Unit>> = object.get_property_typed("peer").unwrap();
        assert_eq!(typed.map(|t| t.tag.get()), peer);
    }

    /// Both sides at once; what they see goes to the log.
    fn race(&mut self, main: MainAct, worker: WorkerAct, skew: i16, hold: u16, before: &Model) {
        let unparent = match main {
            MainAct::Unparent(r) => {
                Some(before.path(Id::Obj(r, 0)).expect("precondition")[1..].join("/"))
            }
            MainAct::Drop(_) => None,
        };
        let mut slots: Vec<Option<Handle>> = self.handles.drain(..).map(Some).collect();
        let main_drop = main_dropped(main).map(|h| slots[h].take().expect("distinct"));
        let worker_drop = worker_dropped(worker).map(|h| slots[h].take().expect("distinct"));
        let (slots_ref, top, barrier) = (&slots, self.top(), &Barrier::new(2));
        std::thread::scope(|s| {
            let racer = s.spawn(move || {
                mark_worker();
                barrier.wait();
                spin(skew.min(0).unsigned_abs());
                let held = |h: usize| slots_ref[h].as_ref().expect("not dropped");
                match worker {
                    WorkerAct::Drop(_) => drop(worker_drop),
                    WorkerAct::Container(h) => {
                        let up = held(h).object().container::<Object>();
                        log(format!("up={}", seen_while_held(up.as_deref(), hold)));
                    }
                    WorkerAct::Link(h) => {
                        let Handle::Board(board) = held(h) else {
                            unreachable!("precondition: a board")
                        };
                        let target = board.upcast::<Base>().peer.get();
                        let target = target.as_deref().map(|t| t.upcast());
                        log(format!("link={}", seen_while_held(target, hold)));
                    }
                }
            });
            barrier.wait();
            spin(skew.max(0).unsigned_abs());
            match unparent {
                Some(path) => top.resolve(&path).unwrap().unparent(),
                None => drop(main_drop),
            }
            racer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
        });
        self.handles = slots.into_iter().flatten().collect();
    }

    /// The log, with the init log's addresses replaced by tags.
    fn take_log(&self) -> [Vec<String>; 2] {
        take_log().map(|entries| {
            entries
                .into_iter()
                .map(|e| match e.split_once(" @") {
                    Some((head, address)) => {
                        let address = usize::from_str_radix(address, 16).expect("hex");
                        format!("{head} {}", self.tags[&address])
                    }
                    None => e,
                })
                .collect()
        })
    }

    /// The tracked allocations live now are exactly the model's.
    fn check_allocations(&self, after: &str) {
        let mut expected = self.baseline.clone();
        for (r, s) in self.model.allocations() {
            let (_, entry) = self.allocations[r]
                .iter()
                .find(|(slot, _)| *slot == s)
                .expect("every allocation was recorded");
            assert!(
                expected.insert(*entry),
                "two live allocations at one address"
            );
        }
        let live = live_allocations();
        if live != expected {
            let name = |e: &usize| {
                self.allocations
                    .iter()
                    .enumerate()
                    .flat_map(|(r, a)| a.iter().map(move |(s, entry)| (r, s, entry)))
                    .filter(|(_, _, entry)| *entry == e)
                    .map(|(r, s, _)| self.model.tag(Id::Obj(r, *s)))
                    .collect::<Vec<_>>()
            };
            let freed: Vec<_> = expected.difference(&live).flat_map(name).collect();
            let kept: Vec<_> = live.difference(&expected).flat_map(name).collect();
            panic!("after {after}: freed too early: {freed:?}; not freed: {kept:?}");
        }
        assert_eq!(
            MISMATCHES.load(Relaxed),
            0,
            "frees with a layout not allocated"
        );
    }

    /// Applies one action to the runtime and checks what it showed.
    fn step(mut self, action: &Action, after: &Model) -> Sut {
        OPERATIONS.fetch_add(1, Relaxed);
        let before = self.model.clone();
        let mut model = before.clone();
        let outcomes = model.apply(action);
        assert_eq!(model, *after, "the model is deterministic");
        let result = match action.on_worker {
            true => {
                ON_WORKER.fetch_add(1, Relaxed);
                let sut = &mut self;
                on_worker(|| sut.run(&action.op, &before, after))
            }
            false => self.run(&action.op, &before, after),
        };
        let observed = Outcome {
            result,
            logs: self.take_log(),
        };
        let Some(order) = outcomes.iter().position(|o| *o == observed) else {
            panic!(
                "{action:?}:\nthe runtime showed {observed:#?}\nthe model expects one of {outcomes:#?}"
            );
        };
        if let Op::Race { .. } = action.op {
            RACES.fetch_add(1, Relaxed);
            if outcomes.iter().any(|o| *o != outcomes[0]) {
                let place = match order {
                    0 => 0,
                    o if o + 1 == outcomes.len() => 2,
                    _ => 1,
                };
                ORDERS_SEEN[place].fetch_add(1, Relaxed);
            }
        }
        self.model = model;
        self.check_allocations(&format!("{action:?}"));
        self
    }
}

/// Whether every index in `op` names something that exists and the
/// operation applies: what generation ensures, checked again while
/// shrinking.
fn valid(state: &Model, op: &Op) -> bool {
    let n = state.handles.len();
    let is_board = |h: usize| state.kind(state.handles[h]) == Some(Kind::Board);
    match *op {
        Op::Create { .. } | Op::Tree => true,
        Op::Clone { handle }
        | Op::Drop { handle }
        | Op::Unparent { handle }
        | Op::SetProperty { handle, .. }
        | Op::SetLevelTyped { handle, .. }
        | Op::Inspect { handle } => handle < n,
        Op::Escape { handle, .. } => {
            handle < n && !state.declared(state.handles[handle]).is_empty()
        }
        Op::Attach { child, parent, .. } => child < n && parent.is_none_or(|p| p < n),
        Op::UnparentByPath { root } => state.reachable_roots().contains(&root),
        Op::SetLink { handle, value } => {
            handle < n
                && match value {
                    LinkValue::Path { target, .. } | LinkValue::Typed { target } => target < n,
                    LinkValue::Empty | LinkValue::Clear => true,
                }
        }
        Op::Race { main, worker, .. } => {
            let main_ok = match main {
                MainAct::Drop(h) => h < n,
                MainAct::Unparent(r) => state.reachable_roots().contains(&r),
            };
            let (WorkerAct::Drop(w) | WorkerAct::Container(w) | WorkerAct::Link(w)) = worker;
            let worker_ok = w < n && (!matches!(worker, WorkerAct::Link(_)) || is_board(w));
            main_ok && worker_ok && main_dropped(main) != Some(w)
        }
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Action;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Action> {
        let n = state.handles.len();
        let shape = prop_oneof![3 => Just(Shape::Board), 1 => Just(Shape::Unit)];
        let create =
            (shape, any::<bool>()).prop_map(|(shape, by_name)| Op::Create { shape, by_name });
        let mut ops = vec![(3, create.boxed()), (1, Just(Op::Tree).boxed())];
        let reachable = state.reachable_roots();
        if !reachable.is_empty() {
            let root = select(reachable.clone()).prop_map(|root| Op::UnparentByPath { root });
            ops.push((2, root.boxed()));
        }
        if n > 0 {
            let h = || 0..n;
            let boards: Vec<usize> = (0..n)
                .filter(|&h| state.kind(state.handles[h]) == Some(Kind::Board))
                .collect();
            let parents: Vec<usize> = (0..n)
                .filter(|&h| !state.declared(state.handles[h]).is_empty())
                .collect();
            let link = prop_oneof![
                4 => (h(), any::<bool>()).prop_map(|(target, partial)| LinkValue::Path { target, partial }),
                3 => h().prop_map(|target| LinkValue::Typed { target }),
                1 => Just(LinkValue::Empty),
                1 => Just(LinkValue::Clear),
            ];
            ops.extend([
                (2, h().prop_map(|handle| Op::Clone { handle }).boxed()),
                (5, h().prop_map(|handle| Op::Drop { handle }).boxed()),
                (
                    3,
                    (h(), proptest::option::of(h()), select(NAMES))
                        .prop_map(|(child, parent, name)| Op::Attach {
                            child,
                            parent,
                            name,
                        })
                        .boxed(),
                ),
                (1, h().prop_map(|handle| Op::Unparent { handle }).boxed()),
                (
                    2,
                    (h(), select(PROPERTY_SETS))
                        .prop_map(|(handle, (name, value))| Op::SetProperty {
                            handle,
                            name,
                            value,
                        })
                        .boxed(),
                ),
                (
                    1,
                    (h(), any::<bool>())
                        .prop_map(|(handle, right_type)| Op::SetLevelTyped { handle, right_type })
                        .boxed(),
                ),
                (
                    2,
                    (h(), link)
                        .prop_map(|(handle, value)| Op::SetLink { handle, value })
                        .boxed(),
                ),
                (3, h().prop_map(|handle| Op::Inspect { handle }).boxed()),
            ]);
            if !parents.is_empty() {
                let escape = (select(parents), 0..5usize, any::<bool>()).prop_map(
                    |(handle, child, by_path)| Op::Escape {
                        handle,
                        child,
                        by_path,
                    },
                );
                ops.push((4, escape.boxed()));
            }
            // A race needs two handles, or a handle and a root to unparent.
            if n >= 2 || !reachable.is_empty() {
                let mut mains = vec![(2, h().prop_map(MainAct::Drop).boxed())];
                if !reachable.is_empty() {
                    mains.push((1, select(reachable).prop_map(MainAct::Unparent).boxed()));
                }
                let mut workers = vec![
                    (1, h().prop_map(WorkerAct::Drop).boxed()),
                    (1, h().prop_map(WorkerAct::Container).boxed()),
                ];
                if !boards.is_empty() {
                    workers.push((1, select(boards).prop_map(WorkerAct::Link).boxed()));
                }
                let race = (
                    proptest::strategy::Union::new_weighted(mains),
                    proptest::strategy::Union::new_weighted(workers),
                    -400i16..400,
                    0..2000u16,
                )
                    .prop_map(|(main, worker, skew, hold)| Op::Race {
                        main,
                        worker,
                        skew,
                        hold,
                    });
                let state = state.clone();
                ops.push((
                    3,
                    race.prop_filter("valid", move |op| valid(&state, op))
                        .boxed(),
                ));
            }
        }
        (
            proptest::strategy::Union::new_weighted(ops),
            proptest::bool::weighted(0.125),
        )
            .prop_map(|(op, worker)| Action {
                on_worker: worker && !matches!(op, Op::Race { .. }),
                op,
            })
            .boxed()
    }

    fn preconditions(state: &Model, action: &Action) -> bool {
        valid(state, &action.op)
    }

    fn apply(mut state: Model, action: &Action) -> Model {
        state.apply(action);
        state
    }
}

struct Runner;

impl StateMachineTest for Runner {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        check_layouts_are_distinct();
        take_log();
        let top = qom_rt::container("/model").unwrap();
        assert!(top.children().is_empty(), "a fresh /model");
        Sut {
            handles: Vec::new(),
            top: Some(top),
            model: Model::default(),
            tags: HashMap::new(),
            allocations: Vec::new(),
            baseline: live_allocations(),
        }
    }

    fn apply(sut: Sut, after: &Model, action: Action) -> Sut {
        sut.step(&action, after)
    }

    fn check_invariants(sut: &Sut, _: &Model) {
        for (handle, id) in sut.handles.iter().zip(&sut.model.handles) {
            let header = handle.object().header();
            let what = sut.model.tag(*id);
            assert_eq!(header.state(), LifeState::Live, "{what} is referenced");
            assert_eq!(
                header.ref_count(),
                sut.model.refs(*id),
                "strong count of {what}"
            );
        }
    }

    /// Drops every handle, then the top container, checking each step.
    fn teardown(mut sut: Sut, _: Model) {
        while !sut.handles.is_empty() {
            let action = Action {
                op: Op::Drop { handle: 0 },
                on_worker: false,
            };
            let mut after = sut.model.clone();
            after.apply(&action);
            sut = sut.step(&action, &after);
        }
        let expected = sut.model.release_top();
        let top = sut.top.take().expect("until the sequence ends");
        top.unparent();
        drop(top);
        assert_eq!(sut.take_log(), [expected, Vec::new()], "releasing /model");
        assert!(sut.model.all_finalized(), "the model lets everything go");
        sut.check_allocations("the end of the sequence");
        assert_eq!(live_allocations(), sut.baseline, "nothing left");

        let n = SEQUENCES.fetch_add(1, Relaxed) + 1;
        if n as u32 == cases() {
            let [first, between, last] = ORDERS_SEEN.each_ref().map(|c| c.load(Relaxed));
            eprintln!(
                "model: {n} sequences, {} operations ({} on a worker thread, {} races: in {} \
                 the order mattered, and the main side's step was seen first {first}, between \
                 the worker's {between}, last {last} times), all matched the model",
                OPERATIONS.load(Relaxed),
                ON_WORKER.load(Relaxed),
                RACES.load(Relaxed),
                first + between + last,
            );
        }
    }
}

/// `PROPTEST_CASES` if set, else a size fit for CI (and smaller for Miri).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(miri) { 3 } else { 64 })
}

#[cfg(not(miri))]
prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn runtime_matches_the_model(sequential 1..100 => Runner);
}

// Under Miri, shorter sequences: every operation is checked against the
// model as natively, in a time CI can afford (Miri runs this twice, under
// Stacked and Tree Borrows); the long native run is in figures/FIGURES.md.
#[cfg(miri)]
prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn runtime_matches_the_model(sequential 1..40 => Runner);
}

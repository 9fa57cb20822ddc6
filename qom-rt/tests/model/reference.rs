//! The reference model: who holds a reference on whom, and what the
//! runtime must therefore do, written from the design document
//! (`book/src/design.md`) and nothing else.
//!
//! * An object's strong references are the test's handles, references a
//!   racing thread holds for a moment, its container's (a declared child,
//!   until the container's finalize releases it) and its dynamic parent's
//!   (`add_child`). It finalizes when they reach zero, exactly once.
//! * Finalize, level by level from the most-derived type up: the level's
//!   hook (its children still live; the object already of that level's
//!   type; its own container out of reach), then the level's declared
//!   children released in reverse declaration order (each finalizes now if
//!   that was its last reference); then its dynamic children, by name.
//! * Init: parent level first; in each level, the declared children (in
//!   declaration order, recursively) before the level's own hook.
//! * Memory: an allocation is freed once the object that starts it and
//!   every object declared in it (recursively, owned children's own
//!   allocations included) have finalized.
//! * A walk up (`container()`, `..`, a canonical path) or a link reaches
//!   only live objects, and a link to an embedded object only while the
//!   object it is embedded in is live.

/// An object: the sequence's top container (`/model`), or slot `.1` of
/// root `.0` (see [`Shape::slots`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Id {
    Top,
    Obj(usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Board,
    Unit,
    Rack,
    Part,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Board => "model-board",
            Kind::Unit => "model-unit",
            Kind::Rack => "model-rack",
            Kind::Part => "model-part",
        }
    }

    /// The levels, most-derived first: the hook's label, and the type the
    /// object has while that level finalizes.
    fn levels(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Board => &[("Board", "model-board"), ("Base", "model-base")],
            Kind::Unit => &[("Unit", "model-unit")],
            Kind::Rack => &[("Rack", "model-rack")],
            Kind::Part => &[("Part", "model-part")],
        }
    }
}

/// How an object is held by what declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// A root: its own allocation.
    Standalone,
    /// In its container's allocation.
    Embedded,
    /// `#[child(owned)]`: its own allocation.
    Owned,
}

/// One object of a root's composition.
#[derive(Debug)]
pub struct Slot {
    /// Its name under its container (`parts[0]`).
    pub name: &'static str,
    pub kind: Kind,
    /// The slot of the object that declares it.
    pub container: Option<usize>,
    /// The container's level that declares it (0: the most-derived).
    level: usize,
    pub held: Held,
}

const fn slot(name: &'static str, kind: Kind, container: usize, level: usize, held: Held) -> Slot {
    Slot {
        name,
        kind,
        container: Some(container),
        level,
        held,
    }
}

const fn root(kind: Kind) -> Slot {
    Slot {
        name: "",
        kind,
        container: None,
        level: 0,
        held: Held::Standalone,
    }
}

/// `objects.rs`'s composition, in declaration order (parents before
/// children): what `Create` builds.
const BOARD: [Slot; 16] = [
    root(Kind::Board),
    slot("core", Kind::Part, 0, 1, Held::Embedded),
    slot("aux", Kind::Unit, 0, 1, Held::Owned),
    slot("parts[0]", Kind::Part, 2, 0, Held::Embedded),
    slot("parts[1]", Kind::Part, 2, 0, Held::Embedded),
    slot("units[0]", Kind::Unit, 0, 0, Held::Embedded),
    slot("parts[0]", Kind::Part, 5, 0, Held::Embedded),
    slot("parts[1]", Kind::Part, 5, 0, Held::Embedded),
    slot("units[1]", Kind::Unit, 0, 0, Held::Embedded),
    slot("parts[0]", Kind::Part, 8, 0, Held::Embedded),
    slot("parts[1]", Kind::Part, 8, 0, Held::Embedded),
    slot("extra", Kind::Rack, 0, 0, Held::Owned),
    slot("unit", Kind::Unit, 11, 0, Held::Embedded),
    slot("parts[0]", Kind::Part, 12, 0, Held::Embedded),
    slot("parts[1]", Kind::Part, 12, 0, Held::Embedded),
    slot("spare", Kind::Part, 11, 0, Held::Owned),
];

const UNIT: [Slot; 3] = [
    root(Kind::Unit),
    slot("parts[0]", Kind::Part, 0, 0, Held::Embedded),
    slot("parts[1]", Kind::Part, 0, 0, Held::Embedded),
];

/// What `Create` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Board,
    Unit,
}

impl Shape {
    pub fn slots(self) -> &'static [Slot] {
        match self {
            Shape::Board => &BOARD,
            Shape::Unit => &UNIT,
        }
    }

    pub fn type_name(self) -> &'static str {
        self.slots()[0].kind.type_name()
    }
}

/// Why the runtime refuses an operation (the `qom_rt::Error` variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    InvalidName,
    AlreadyParented,
    Cycle,
    DuplicateChild,
    UnknownProperty,
    InvalidValue,
    PropertyLocked,
}

/// What a link property is set to.
#[derive(Clone, Copy, Debug)]
pub enum LinkValue {
    /// By path: the handle's object's canonical path (or its last two
    /// components), or a path that names nothing when it has none.
    Path { target: usize, partial: bool },
    /// Typed, with the handle's own type (`Option<Owned<Part>>`, ...).
    Typed { target: usize },
    /// The empty string.
    Empty,
    /// Typed `None`.
    Clear,
}

/// One side of a race.
#[derive(Clone, Copy, Debug)]
pub enum MainAct {
    /// Drops a handle.
    Drop(usize),
    /// Unparents a root found by path from the top container.
    Unparent(usize),
}

/// The other side of a race, on the worker thread.
#[derive(Clone, Copy, Debug)]
pub enum WorkerAct {
    /// Drops a handle.
    Drop(usize),
    /// Takes the handle's `container()`, then drops it.
    Container(usize),
    /// Takes a board's link target, then drops it.
    Link(usize),
}

#[derive(Clone, Debug)]
pub enum Op {
    Create {
        shape: Shape,
        by_name: bool,
    },
    Clone {
        handle: usize,
    },
    Drop {
        handle: usize,
    },
    /// A reference to a declared child of the handle's object
    /// (`Owned::from(&object.child)`, or resolved by its name).
    Escape {
        handle: usize,
        child: usize,
        by_path: bool,
    },
    /// `add_child` of the handle's object under another handle's object
    /// or the top container.
    Attach {
        child: usize,
        parent: Option<usize>,
        name: &'static str,
    },
    Unparent {
        handle: usize,
    },
    /// Finds a root by its path from the top container and unparents it.
    UnparentByPath {
        root: usize,
    },
    SetProperty {
        handle: usize,
        name: &'static str,
        value: &'static str,
    },
    /// `set_property_typed("level", 200u8)`, or with a `u32`.
    SetLevelTyped {
        handle: usize,
        right_type: bool,
    },
    SetLink {
        handle: usize,
        value: LinkValue,
    },
    /// Every query about the handle's object.
    Inspect {
        handle: usize,
    },
    /// `qom_tree("/model")`.
    Tree,
    /// Both sides at once, on two threads; `skew` delays one side, and
    /// the worker keeps what it took for `hold` spins.
    Race {
        main: MainAct,
        worker: WorkerAct,
        skew: i16,
        hold: u16,
    },
}

/// An operation, run on the test's thread or on a worker thread.
#[derive(Clone, Debug)]
pub struct Action {
    pub op: Op,
    pub on_worker: bool,
}

/// What the runtime may show for an action: its result, and what each
/// thread logged (`[main, worker]`: hooks, and a race's reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<(), Refusal>,
    pub logs: [Vec<String>; 2],
}

/// `add_child` names: fresh ones, the names of declared children of some
/// objects, and invalid ones.
pub const NAMES: &[&str] = &["x", "y", "z", "core", "parts[1]", "unit", "", "a/b", ".."];

/// Property sets from strings; [`level_text`] and [`flag_text`] hold
/// what each value means.
pub const PROPERTY_SETS: &[(&str, &str)] = &[
    ("level", "3"),
    ("level", "0x10"),
    ("level", "255"),
    ("level", " +9 "),
    ("level", "256"),
    ("level", "-1"),
    ("level", ""),
    ("level", "x"),
    ("level", "0x"),
    ("locked", "on"),
    ("locked", "off"),
    ("locked", "no"),
    ("locked", "maybe"),
    ("type", "model-part"),
    ("levle", "3"),
];

/// A `u8` property's value from text (decimal or `0x` hex, optional sign,
/// surrounding spaces ignored), for the values above.
fn level_text(text: &str) -> Option<u8> {
    match text {
        "3" => Some(3),
        "0x10" => Some(16),
        "255" => Some(255),
        " +9 " => Some(9),
        _ => None,
    }
}

/// A `bool` property's value from text.
fn flag_text(text: &str) -> Option<bool> {
    match text {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// The value `SetLevelTyped` sets.
pub const TYPED_LEVEL: u8 = 200;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Model {
    /// What each of the test's handles refers to (never `Top`).
    pub handles: Vec<Id>,
    /// References held inside an action (a race), released before it ends.
    temps: Vec<Id>,
    roots: Vec<Root>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Root {
    shape: Shape,
    objects: Vec<State>,
    /// The dynamic parent and the name under it.
    parent: Option<(Id, &'static str)>,
    /// A board's properties.
    level: u8,
    locked: bool,
    peer: Option<Id>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct State {
    /// Finalize has begun: the object is no longer live.
    finalizing: bool,
    /// Finalize has ended.
    finalized: bool,
    /// The container's reference is gone.
    released: bool,
}

impl Model {
    fn slot(&self, r: usize, s: usize) -> &'static Slot {
        &self.roots[r].shape.slots()[s]
    }

    fn state(&self, r: usize, s: usize) -> &State {
        &self.roots[r].objects[s]
    }

    pub fn kind(&self, id: Id) -> Option<Kind> {
        match id {
            Id::Top => None,
            Id::Obj(r, s) => Some(self.slot(r, s).kind),
        }
    }

    /// The object's tag (`b3.units[1].parts[0]`), as the test sets it.
    pub fn tag(&self, id: Id) -> String {
        match id {
            Id::Top => "top".to_string(),
            Id::Obj(r, s) => match self.slot(r, s).container {
                Some(c) => format!("{}.{}", self.tag(Id::Obj(r, c)), self.slot(r, s).name),
                None => match self.roots[r].shape {
                    Shape::Board => format!("b{r}"),
                    Shape::Unit => format!("u{r}"),
                },
            },
        }
    }

    fn tag_or_none(&self, id: Option<Id>) -> String {
        id.map_or_else(|| "none".to_string(), |id| self.tag(id))
    }

    pub fn live(&self, id: Id) -> bool {
        match id {
            Id::Top => true,
            Id::Obj(r, s) => !self.state(r, s).finalizing,
        }
    }

    /// The object's strong count.
    pub fn refs(&self, id: Id) -> usize {
        let Id::Obj(r, s) = id else {
            unreachable!("the test holds no handle on the top container")
        };
        let held = self.handles.iter().chain(&self.temps);
        let by_handles = held.filter(|h| **h == id).count();
        let by_container = self.slot(r, s).container.is_some() && !self.state(r, s).released;
        let by_tree = s == 0 && self.roots[r].parent.is_some();
        by_handles + usize::from(by_container) + usize::from(by_tree)
    }

    /// The object's name under what declares it (`parts[1]`).
    pub fn name(&self, id: Id) -> &'static str {
        match id {
            Id::Top => "model",
            Id::Obj(r, s) => self.slot(r, s).name,
        }
    }

    /// The declared children of slot `s` at `level`, in declaration order.
    fn level_children(&self, r: usize, s: usize, level: usize) -> Vec<usize> {
        let slots = self.roots[r].shape.slots();
        (0..slots.len())
            .filter(|&c| slots[c].container == Some(s) && slots[c].level == level)
            .collect()
    }

    /// The declared children of an object, as walks list them: the
    /// parent type's level first, each in declaration order.
    pub fn declared(&self, id: Id) -> Vec<Id> {
        let Id::Obj(r, s) = id else {
            return Vec::new();
        };
        let levels = self.slot(r, s).kind.levels().len();
        (0..levels)
            .rev()
            .flat_map(|level| self.level_children(r, s, level))
            .map(|c| Id::Obj(r, c))
            .collect()
    }

    /// The dynamic children of `parent`, by name.
    fn dynamic(&self, parent: Id) -> Vec<(&'static str, Id)> {
        let mut children: Vec<_> = (0..self.roots.len())
            .filter_map(|r| match self.roots[r].parent {
                Some((p, name)) if p == parent => Some((name, Id::Obj(r, 0))),
                _ => None,
            })
            .collect();
        children.sort();
        children
    }

    /// Finalizes the object if nothing references it any more.
    fn settle(&mut self, id: Id, log: &mut Vec<String>) {
        if let Id::Obj(r, s) = id {
            if !self.state(r, s).finalizing && self.refs(id) == 0 {
                self.finalize(r, s, log);
            }
        }
    }

    fn finalize(&mut self, r: usize, s: usize, log: &mut Vec<String>) {
        self.roots[r].objects[s].finalizing = true;
        let tag = self.tag(Id::Obj(r, s));
        for (level, (label, type_name)) in self.slot(r, s).kind.levels().iter().enumerate() {
            let kids = self.level_children(r, s, level);
            let n = kids.len();
            log.push(format!(
                "fin {label}:{type_name} {tag} up=none kids={n}/{n}"
            ));
            for &c in kids.iter().rev() {
                self.roots[r].objects[c].released = true;
                self.settle(Id::Obj(r, c), log);
            }
        }
        self.roots[r].objects[s].finalized = true;
        for (_, child) in self.dynamic(Id::Obj(r, s)) {
            self.detach(child, log);
        }
    }

    /// Drops the dynamic parent's reference on a root.
    fn detach(&mut self, id: Id, log: &mut Vec<String>) {
        if let Id::Obj(r, 0) = id {
            if self.roots[r].parent.take().is_some() {
                self.settle(id, log);
            }
        }
    }

    fn init(&self, r: usize, s: usize, log: &mut Vec<String>) {
        let kind = self.slot(r, s).kind;
        let tag = self.tag(Id::Obj(r, s));
        for (level, (label, _)) in kind.levels().iter().enumerate().rev() {
            for c in self.level_children(r, s, level) {
                self.init(r, c, log);
            }
            log.push(format!("init {label}:{} {tag}", kind.type_name()));
        }
    }

    /// Whether the memory of slot `s` is no longer needed: it and every
    /// object declared in it finalized.
    fn freed(&self, r: usize, s: usize) -> bool {
        let slots = self.roots[r].shape.slots();
        self.state(r, s).finalized
            && (0..slots.len())
                .filter(|&c| slots[c].container == Some(s))
                .all(|c| self.freed(r, c))
    }

    /// The allocations still live: the slots that start one (standalone
    /// roots and owned children), not yet freed.
    pub fn allocations(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (r, root) in self.roots.iter().enumerate() {
            for (s, slot) in root.shape.slots().iter().enumerate() {
                if slot.held != Held::Embedded && !self.freed(r, s) {
                    out.push((r, s));
                }
            }
        }
        out
    }

    /// Whether every object has finalized.
    pub fn all_finalized(&self) -> bool {
        self.roots
            .iter()
            .all(|root| root.objects.iter().all(|o| o.finalized))
    }

    // ------------------------------------------------------------ queries

    /// The object above: its declaring container (whatever its state) or
    /// its dynamic parent. What `add_child`'s cycle check walks.
    pub fn above(&self, id: Id) -> Option<(Id, &'static str)> {
        let Id::Obj(r, s) = id else {
            return None;
        };
        let slot = self.slot(r, s);
        match slot.container {
            Some(c) => Some((Id::Obj(r, c), slot.name)),
            None => self.roots[r].parent,
        }
    }

    /// The canonical path's components (`["model", "x", "units[0]"]`):
    /// `None` while detached from the root, or below an object that is not
    /// live.
    pub fn path(&self, id: Id) -> Option<Vec<&'static str>> {
        if id == Id::Top {
            return Some(vec!["model"]);
        }
        let (up, name) = self.above(id)?;
        if !self.live(up) {
            return None;
        }
        let mut path = self.path(up)?;
        path.push(name);
        Some(path)
    }

    /// `resolve("..")`: the object above, if it is live; and the object's
    /// name under it.
    pub fn dotdot(&self, id: Id) -> Option<(Id, &'static str)> {
        self.above(id).filter(|(up, _)| self.live(*up))
    }

    /// The child of `parent` named `name`, declared or dynamic.
    pub fn child(&self, parent: Id, name: &str) -> Option<Id> {
        let declared = self.declared(parent).into_iter().map(|c| (self.name(c), c));
        declared
            .chain(self.dynamic(parent))
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
    }

    /// `container::<Object>()`: the declaring container, if it is live.
    pub fn container(&self, id: Id) -> Option<Id> {
        let Id::Obj(r, s) = id else {
            return None;
        };
        let c = Id::Obj(r, self.slot(r, s).container?);
        self.live(c).then_some(c)
    }

    /// The board whose root `id` is, if it is one.
    fn board(&self, id: Id) -> Option<usize> {
        match id {
            Id::Obj(r, 0) if self.roots[r].shape == Shape::Board => Some(r),
            _ => None,
        }
    }

    /// A board's `peer` as `get()` reads it: the target while it is live,
    /// and, for an embedded target, while its container is live.
    pub fn link(&self, id: Id) -> Option<Id> {
        let target = self.roots[self.board(id)?].peer?;
        let Id::Obj(r, s) = target else {
            unreachable!("links point at units")
        };
        let slot = self.slot(r, s);
        let container_live = match (slot.held, slot.container) {
            (Held::Embedded, Some(c)) => self.live(Id::Obj(r, c)),
            _ => true,
        };
        (self.live(target) && container_live).then_some(target)
    }

    /// A board's `level`, `locked` and `peer` as `get_property` prints
    /// them.
    pub fn properties(&self, id: Id) -> Option<[String; 3]> {
        let root = &self.roots[self.board(id)?];
        let peer = self
            .link(id)
            .and_then(|t| self.path(t))
            .map(|p| format!("/{}", p.join("/")))
            .unwrap_or_default();
        let locked = if root.locked { "on" } else { "off" };
        Some([root.level.to_string(), locked.to_string(), peer])
    }

    /// `children()`: name, how it is held, type.
    pub fn listing(&self, id: Id) -> Vec<(String, &'static str, &'static str)> {
        let declared = self.declared(id).into_iter().map(|c| {
            let Id::Obj(r, s) = c else { unreachable!() };
            let slot = self.slot(r, s);
            let held = match slot.held {
                Held::Owned => "owned",
                _ => "embedded",
            };
            (slot.name.to_string(), held, slot.kind.type_name())
        });
        let dynamic = self.dynamic(id).into_iter().map(|(name, c)| {
            let Id::Obj(r, _) = c else { unreachable!() };
            (name.to_string(), "dynamic", self.roots[r].shape.type_name())
        });
        declared.chain(dynamic).collect()
    }

    /// `qom_tree("/model")`.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        self.print_tree(Id::Top, "model", 0, &mut out);
        out
    }

    fn print_tree(&self, id: Id, name: &str, depth: usize, out: &mut String) {
        let type_name = self.kind(id).map_or("container", Kind::type_name);
        out.push_str(&format!(
            "{:indent$}/{name} ({type_name})\n",
            "",
            indent = depth * 2
        ));
        let declared = self.declared(id).into_iter().map(|c| {
            let Id::Obj(r, s) = c else { unreachable!() };
            (self.slot(r, s).name, c)
        });
        for (child_name, child) in declared.chain(self.dynamic(id)) {
            self.print_tree(child, child_name, depth + 1, out);
        }
    }

    /// The roots that can be found by path from the top container.
    pub fn reachable_roots(&self) -> Vec<usize> {
        (0..self.roots.len())
            .filter(|&r| self.path(Id::Obj(r, 0)).is_some())
            .collect()
    }

    /// The text a `LinkValue::Path` sets.
    pub fn link_text(&self, target: usize, partial: bool) -> String {
        match (self.path(self.handles[target]), partial) {
            (Some(path), false) => format!("/{}", path.join("/")),
            (Some(path), true) => path[path.len().saturating_sub(2)..].join("/"),
            (None, false) => "/model/nowhere".to_string(),
            (None, true) => "nowhere".to_string(),
        }
    }

    /// `resolve_path`: the object an absolute path names, or the only one
    /// whose path ends with a partial one.
    fn resolve(&self, text: &str) -> Option<Id> {
        let wanted: Vec<&str> = text.split('/').filter(|c| !c.is_empty()).collect();
        let everything = (0..self.roots.len())
            .flat_map(|r| (0..self.roots[r].objects.len()).map(move |s| Id::Obj(r, s)));
        let found: Vec<Id> = std::iter::once(Id::Top)
            .chain(everything)
            .filter(|id| {
                self.path(*id)
                    .is_some_and(|path| match text.starts_with('/') {
                        true => path == wanted,
                        false => path.ends_with(&wanted),
                    })
            })
            .collect();
        match found[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    // ------------------------------------------------------------ changes

    /// Applies an action; returns every outcome the runtime may show.
    pub fn apply(&mut self, action: &Action) -> Vec<Outcome> {
        if let Op::Race { main, worker, .. } = action.op {
            return self.race(main, worker);
        }
        let mut log = Vec::new();
        let result = self.apply_op(&action.op, &mut log);
        let logs = match action.on_worker {
            false => [log, Vec::new()],
            true => [Vec::new(), log],
        };
        vec![Outcome { result, logs }]
    }

    fn apply_op(&mut self, op: &Op, log: &mut Vec<String>) -> Result<(), Refusal> {
        match *op {
            Op::Create { shape, .. } => {
                let r = self.roots.len();
                self.roots.push(Root {
                    shape,
                    objects: shape.slots().iter().map(|_| State::default()).collect(),
                    parent: None,
                    level: 1,
                    locked: false,
                    peer: None,
                });
                self.handles.push(Id::Obj(r, 0));
                self.init(r, 0, log);
            }
            Op::Clone { handle } => self.handles.push(self.handles[handle]),
            Op::Drop { handle } => {
                let id = self.handles.remove(handle);
                self.settle(id, log);
            }
            Op::Escape { handle, child, .. } => {
                let children = self.declared(self.handles[handle]);
                self.handles.push(children[child % children.len()]);
            }
            Op::Attach {
                child,
                parent,
                name,
            } => {
                let parent = parent.map_or(Id::Top, |p| self.handles[p]);
                self.attach(self.handles[child], parent, name)?;
            }
            Op::Unparent { handle } => self.detach(self.handles[handle], log),
            Op::UnparentByPath { root } => self.detach(Id::Obj(root, 0), log),
            Op::SetProperty {
                handle,
                name,
                value,
            } => self.set_property(self.handles[handle], name, value)?,
            Op::SetLevelTyped { handle, right_type } => {
                let r = self.settable(self.handles[handle])?;
                if !right_type {
                    return Err(Refusal::InvalidValue);
                }
                self.roots[r].level = TYPED_LEVEL;
            }
            Op::SetLink { handle, value } => {
                let r = self.settable(self.handles[handle])?;
                self.roots[r].peer = match value {
                    LinkValue::Clear => None,
                    LinkValue::Empty => return Err(Refusal::InvalidValue),
                    LinkValue::Typed { target } => Some(self.handles[target]),
                    LinkValue::Path { target, partial } => Some(
                        self.resolve(&self.link_text(target, partial))
                            .ok_or(Refusal::InvalidValue)?,
                    ),
                }
                .map(|t| match self.kind(t) {
                    Some(Kind::Unit) => Ok(t),
                    _ => Err(Refusal::InvalidValue),
                })
                .transpose()?;
            }
            Op::Inspect { .. } | Op::Tree => {}
            Op::Race { .. } => unreachable!("see `race`"),
        }
        Ok(())
    }

    fn attach(&mut self, child: Id, parent: Id, name: &'static str) -> Result<(), Refusal> {
        let invalid = name.is_empty()
            || name.contains('/')
            || name == "."
            || name == ".."
            || name.chars().any(|c| c.is_whitespace() || c.is_control());
        if invalid {
            return Err(Refusal::InvalidName);
        }
        if self.above(child).is_some() {
            return Err(Refusal::AlreadyParented);
        }
        let mut at = Some(parent);
        while let Some(a) = at {
            if a == child {
                return Err(Refusal::Cycle);
            }
            at = self.above(a).map(|(up, _)| up);
        }
        if self.child(parent, name).is_some() {
            return Err(Refusal::DuplicateChild);
        }
        let Id::Obj(r, 0) = child else {
            unreachable!("only roots have no parent")
        };
        self.roots[r].parent = Some((parent, name));
        Ok(())
    }

    /// A board whose properties may change, else why not: only boards
    /// have them, and a locked board refuses every change but `locked`'s.
    fn settable(&self, id: Id) -> Result<usize, Refusal> {
        let r = self.board(id).ok_or(Refusal::UnknownProperty)?;
        match self.roots[r].locked {
            true => Err(Refusal::PropertyLocked),
            false => Ok(r),
        }
    }

    fn set_property(&mut self, id: Id, name: &str, value: &str) -> Result<(), Refusal> {
        match name {
            // Every object's read-only property.
            "type" => Err(Refusal::PropertyLocked),
            "level" => {
                let r = self.settable(id)?;
                self.roots[r].level = level_text(value).ok_or(Refusal::InvalidValue)?;
                Ok(())
            }
            "locked" => {
                let r = self.board(id).ok_or(Refusal::UnknownProperty)?;
                self.roots[r].locked = flag_text(value).ok_or(Refusal::InvalidValue)?;
                Ok(())
            }
            _ => Err(Refusal::UnknownProperty),
        }
    }

    /// Drops the top container, as the end of a sequence does: its
    /// dynamic children are released by name.
    pub fn release_top(&mut self) -> Vec<String> {
        let mut log = Vec::new();
        for (_, child) in self.dynamic(Id::Top) {
            self.detach(child, &mut log);
        }
        log
    }

    // ------------------------------------------------------------ races

    /// Both sides of a race, in every order their steps can interleave
    /// (see [`race_orders`]): one outcome per order; the model takes the
    /// state they all end in.
    fn race(&mut self, main: MainAct, worker: WorkerAct) -> Vec<Outcome> {
        let main_steps = match main {
            MainAct::Drop(h) => vec![Step::Release(self.handles[h])],
            MainAct::Unparent(r) => vec![Step::Unparent(r)],
        };
        let worker_steps = match worker {
            WorkerAct::Drop(h) => vec![Step::Release(self.handles[h])],
            WorkerAct::Container(h) => vec![Step::Container(self.handles[h]), Step::ReleaseHeld],
            WorkerAct::Link(h) => vec![Step::Link(self.handles[h]), Step::ReleaseHeld],
        };
        // A dropped handle becomes a reference its side releases.
        let mut dropped: Vec<usize> = [main_dropped(main), worker_dropped(worker)]
            .into_iter()
            .flatten()
            .collect();
        dropped.sort_unstable();
        for h in dropped.into_iter().rev() {
            let id = self.handles.remove(h);
            self.temps.push(id);
        }
        let scripts = [main_steps, worker_steps];
        let mut outcomes = Vec::new();
        let mut end: Option<Model> = None;
        for order in race_orders(scripts[1].len()) {
            let mut model = self.clone();
            let mut logs = [Vec::new(), Vec::new()];
            let mut held = [None, None];
            let mut next = [0, 0];
            for side in order {
                let step = scripts[side][next[side]];
                next[side] += 1;
                model.step(step, &mut held[side], &mut logs[side]);
            }
            assert!(model.temps.is_empty());
            match &end {
                Some(end) => assert_eq!(*end, model, "every order ends in the same state"),
                None => end = Some(model),
            }
            outcomes.push(Outcome {
                result: Ok(()),
                logs,
            });
        }
        *self = end.expect("at least one order");
        outcomes
    }

    fn step(&mut self, step: Step, held: &mut Option<Id>, log: &mut Vec<String>) {
        match step {
            Step::Release(id) => self.release_temp(id, log),
            Step::Container(id) => {
                let up = self.container(id);
                log.push(format!("up={}", self.tag_or_none(up)));
                self.hold(up, held);
            }
            Step::Link(id) => {
                let target = self.link(id);
                log.push(format!("link={}", self.tag_or_none(target)));
                self.hold(target, held);
            }
            Step::ReleaseHeld => {
                if let Some(id) = held.take() {
                    self.release_temp(id, log);
                }
            }
            Step::Unparent(r) => self.detach(Id::Obj(r, 0), log),
        }
    }

    fn hold(&mut self, id: Option<Id>, held: &mut Option<Id>) {
        if let Some(id) = id {
            self.temps.push(id);
            *held = Some(id);
        }
    }

    fn release_temp(&mut self, id: Id, log: &mut Vec<String>) {
        let i = self.temps.iter().position(|t| *t == id).expect("held");
        self.temps.remove(i);
        self.settle(id, log);
    }
}

pub fn main_dropped(act: MainAct) -> Option<usize> {
    match act {
        MainAct::Drop(h) => Some(h),
        MainAct::Unparent(_) => None,
    }
}

pub fn worker_dropped(act: WorkerAct) -> Option<usize> {
    match act {
        WorkerAct::Drop(h) => Some(h),
        WorkerAct::Container(_) | WorkerAct::Link(_) => None,
    }
}

/// One atomic step of a race.
#[derive(Clone, Copy, Debug)]
enum Step {
    Release(Id),
    Container(Id),
    Link(Id),
    ReleaseHeld,
    Unparent(usize),
}

/// The orders of a one-step main side (0) and a worker side (1) of
/// `worker` steps: main's step before the worker's first, ..., after its
/// last.
pub fn race_orders(worker: usize) -> Vec<Vec<usize>> {
    (0..=worker)
        .map(|at| {
            let mut order = vec![1; worker];
            order.insert(at, 0);
            order
        })
        .collect()
}

//! The composition tree: one process-wide root, named children, canonical
//! paths, path resolution and the `info qom-tree` printout.
//!
//! Declared children (embedded and owned fields) are in the tree from
//! birth at no cost: their names and places come from each type's static
//! child table. Only dynamic links (`add_child`) and the back-links of owned
//! children live in a side table behind one lock (QEMU serialises tree
//! changes under its big lock in the same way). While the lock is held,
//! every object reachable from a tree link is alive: a parent holds a
//! strong reference on each dynamic child, a container on each declared
//! child, and links are removed (under the lock) before a parent dies.

use crate::error::{Error, Result};
use crate::header::ObjectHeader;
use crate::object::{Object, ObjectType};
use crate::owned::Owned;
use crate::type_info::{ChildKind, TypeInfo};
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A header pointer with the allocation's provenance, usable as a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HeaderPtr(pub(crate) NonNull<ObjectHeader>);

// SAFETY: a `HeaderPtr` is only dereferenced under the tree lock (or the
// link-target table's lock), while the invariants in the module docs (and
// in `link`'s) keep the object alive; objects are `Send + Sync`.
unsafe impl Send for HeaderPtr {}
// SAFETY: as for `Send`: sharing the address is harmless, dereferencing it
// is governed by the locks.
unsafe impl Sync for HeaderPtr {}

impl HeaderPtr {
    /// With the allocation's provenance: the walk reaches sibling fields
    /// and children that a pointer made from `&ObjectHeader` does not cover.
    pub(crate) fn of(header: &ObjectHeader) -> Self {
        HeaderPtr(header.allocation_ptr_at(NonNull::from(header)))
    }

    /// # Safety
    /// The object must be alive (see the module docs).
    pub(crate) unsafe fn get<'a>(self) -> &'a ObjectHeader {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.as_ref() }
    }
}

/// How a standalone object hangs in the tree.
struct ParentLink {
    parent: HeaderPtr,
    name: String,
    /// An owned child: the parent's field holds the reference, not the map.
    owned: bool,
}

#[derive(Default)]
pub(crate) struct Links {
    /// Parent of each dynamic or owned child, by the child's header.
    parents: HashMap<HeaderPtr, ParentLink, PtrHash>,
    /// Dynamic children of each object, by the parent's header.
    children: HashMap<HeaderPtr, BTreeMap<String, Owned<Object>>, PtrHash>,
}

/// Hashes header addresses (and link epochs) for the side tables: one
/// multiply instead of SipHash (a tree walk looks up every object). Keys
/// are not chosen by untrusted input, so flooding is not a concern.
#[derive(Default, Clone, Copy)]
pub(crate) struct PtrHash;

impl core::hash::BuildHasher for PtrHash {
    type Hasher = PtrHasher;
    fn build_hasher(&self) -> PtrHasher {
        PtrHasher(0)
    }
}

/// See [`PtrHash`].
pub(crate) struct PtrHasher(u64);

impl core::hash::Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing; the rotation brings the well-mixed high bits
        // down to where `HashMap` takes its bucket index and control bits.
        self.0 = (self.0.rotate_left(5) ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

fn links_mutex() -> &'static Mutex<Links> {
    static LINKS: OnceLock<Mutex<Links>> = OnceLock::new();
    LINKS.get_or_init(Default::default)
}

pub(crate) fn links() -> MutexGuard<'static, Links> {
    // A panic while holding the lock leaves the maps consistent (every
    // update is a single insert/remove), so poisoning is ignored.
    links_mutex().lock().unwrap_or_else(|e| e.into_inner())
}

fn root_object() -> &'static Owned<Object> {
    static ROOT: OnceLock<Owned<Object>> = OnceLock::new();
    ROOT.get_or_init(|| Owned::<crate::Container>::new().into_object())
}

/// The root of the composition tree, `/` (a `container`).
///
/// ```
/// use qom_rt::prelude::*;
/// assert_eq!(qom_rt::root().canonical_path().as_deref(), Some("/"));
/// assert_eq!(qom_rt::root().type_name(), "container");
/// ```
pub fn root() -> Owned<Object> {
    root_object().clone()
}

pub(crate) fn root_header() -> HeaderPtr {
    HeaderPtr::of(root_object().header())
}

/// A child's name without allocating: a field or dynamic child's name, or
/// an array element `field[i]`, formatted only when printed.
#[derive(Clone, Copy)]
enum ChildName<'a> {
    Whole(&'a str),
    Element(&'a str, usize),
}

impl ChildName<'_> {
    /// Whether the name is exactly `wanted` (`timers[1]`, not `timers[01]`).
    fn is(self, wanted: &str) -> bool {
        match self {
            ChildName::Whole(name) => name == wanted,
            ChildName::Element(field, index) => wanted
                .strip_prefix(field)
                .and_then(|rest| rest.strip_prefix('['))
                .and_then(|rest| rest.strip_suffix(']'))
                .is_some_and(|digits| {
                    digits.bytes().all(|b| b.is_ascii_digit())
                        && (digits == "0" || !digits.starts_with('0'))
                        && digits.parse() == Ok(index)
                }),
        }
    }
}

impl core::fmt::Display for ChildName<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ChildName::Whole(name) => f.write_str(name),
            ChildName::Element(field, index) => write!(f, "{field}[{index}]"),
        }
    }
}

/// An object's children, in the order `info qom-tree` prints them: declared
/// children by declaration (parent types first), then dynamic ones by name.
fn for_each_child(links: &Links, header: HeaderPtr, mut f: impl FnMut(ChildName<'_>, HeaderPtr)) {
    for_each_declared(header, &mut f);
    if let Some(map) = links.children.get(&header) {
        for (name, child) in map {
            f(ChildName::Whole(name), HeaderPtr(child.header_ptr()));
        }
    }
}

/// Like [`for_each_child`], saying how each child is held.
pub(crate) fn for_each_child_entry(
    links: &Links,
    header: HeaderPtr,
    mut f: impl FnMut(String, HeaderPtr, ChildEntryKind),
) {
    for_each_declared(header, |name, child| {
        // SAFETY: alive under the lock.
        let kind = match unsafe { child.get() }.container_header() {
            Some(_) => ChildEntryKind::Embedded,
            None => ChildEntryKind::Owned,
        };
        f(name.to_string(), child, kind);
    });
    if let Some(map) = links.children.get(&header) {
        for (name, child) in map {
            let child = HeaderPtr(child.header_ptr());
            f(name.clone(), child, ChildEntryKind::Dynamic);
        }
    }
}

/// The embedded and owned children of an object, from its type's tables.
fn for_each_declared(header: HeaderPtr, mut f: impl FnMut(ChildName<'_>, HeaderPtr)) {
    // SAFETY: the caller holds the lock and `header` is alive.
    let info = unsafe { header.get() }.type_info();
    for level in info.ancestors {
        // The start of that level's struct, with the allocation's provenance.
        // SAFETY: every level shares the header; `header_offset` is inside
        // the most-derived object.
        let start = unsafe { header.0.cast::<u8>().byte_sub(level.header_offset) };
        for child in level.children {
            for i in 0..child.count() {
                // SAFETY: `start` is a live instance of `level` and `i` is in
                // range; owned fields were initialised before the container
                // became reachable.
                let hdr = unsafe { child.element_header(start, i) };
                let name = match child.kind {
                    ChildKind::Embedded { array: true, .. } => ChildName::Element(child.name, i),
                    _ => ChildName::Whole(child.name),
                };
                f(name, HeaderPtr(hdr));
            }
        }
    }
}

fn child_by_name(links: &Links, header: HeaderPtr, name: &str) -> Option<HeaderPtr> {
    if let Some(child) = links.children.get(&header).and_then(|m| m.get(name)) {
        return Some(HeaderPtr(child.header_ptr()));
    }
    let mut found = None;
    for_each_declared(header, |child_name, child| {
        if found.is_none() && child_name.is(name) {
            found = Some(child);
        }
    });
    found
}

/// The tree parent of `header`, and the name it has there.
fn parent_of(links: &Links, header: HeaderPtr) -> Option<(HeaderPtr, String)> {
    // SAFETY: the caller holds the lock and `header` is alive.
    let h = unsafe { header.get() };
    if let Some(container) = h.container_header() {
        let container = HeaderPtr(container);
        let mut name = None;
        for_each_declared(container, |n, child| {
            if child == header {
                name = Some(n.to_string());
            }
        });
        return name.map(|n| (container, n));
    }
    links
        .parents
        .get(&header)
        .map(|link| (link.parent, link.name.clone()))
}

pub(crate) fn path_locked(links: &Links, header: HeaderPtr) -> Option<String> {
    let root = root_header();
    let mut names = Vec::new();
    let mut at = header;
    while at != root {
        // SAFETY: `at` is alive: it is `header` or a parent reached through
        // a link, and a link never outlives its parent.
        let live = unsafe { at.get() }.state() == crate::LifeState::Live;
        // A finalizing container is out of the tree even if a child of it
        // still lives; the object itself may be finalizing (diagnostics).
        if !live && at != header {
            return None;
        }
        let (parent, name) = parent_of(links, at)?;
        names.push(name);
        at = parent;
    }
    let mut path = String::new();
    for name in names.iter().rev() {
        path.push('/');
        path.push_str(name);
    }
    if path.is_empty() {
        path.push('/');
    }
    Some(path)
}

/// The canonical path of an object for a panic message, without waiting
/// for the tree lock (the panicking thread may hold it).
pub(crate) fn path_for_diagnostics(header: &ObjectHeader) -> Option<String> {
    let links = match links_mutex().try_lock() {
        Ok(guard) => guard,
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    path_locked(&links, HeaderPtr::of(header))
}

/// Takes a strong reference on an object found under the lock.
fn owned_at(header: HeaderPtr) -> Owned<Object> {
    // SAFETY: alive under the lock; `acquire_ref` cannot fail on an object
    // reachable from a live object (its holder keeps the count above zero).
    let h = unsafe { header.get() };
    h.acquire_ref_escaping();
    // SAFETY: `Object` is the header at offset 0; we transfer the reference
    // just taken.
    unsafe { Owned::from_counted(header.0.cast()) }
}

fn check_child_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.contains('/') {
        Some("it contains `/`")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are reserved")
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("it contains white space or control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn describe(links: &Links, header: HeaderPtr) -> String {
    // SAFETY: alive under the lock.
    let info = unsafe { header.get() }.type_info();
    path_locked(links, header).unwrap_or_else(|| format!("<detached {}>", info.name()))
}

fn add_child_locked(
    links: &mut Links,
    parent: HeaderPtr,
    name: &str,
    child: Owned<Object>,
) -> Result<()> {
    check_child_name(name)?;
    let child_header = HeaderPtr(child.header_ptr());
    if let Some(path) = parent_of(links, child_header).map(|_| describe(links, child_header)) {
        return Err(Error::AlreadyParented {
            object: child.header().type_info().name().to_string(),
            path,
        });
    }
    if child_header == root_header() {
        return Err(Error::Cycle {
            parent: describe(links, parent),
            name: name.to_string(),
        });
    }
    let mut at = Some(parent);
    while let Some(p) = at {
        if p == child_header {
            return Err(Error::Cycle {
                parent: describe(links, parent),
                name: name.to_string(),
            });
        }
        at = parent_of(links, p).map(|(pp, _)| pp);
    }
    if child_by_name(links, parent, name).is_some() {
        return Err(Error::DuplicateChild {
            parent: describe(links, parent),
            name: name.to_string(),
        });
    }
    // SAFETY: both alive: we hold `child`, and `parent` is the caller's.
    unsafe {
        parent.get().set_tree_flag();
        child_header.get().set_tree_flag();
    }
    links.parents.insert(
        child_header,
        ParentLink {
            parent,
            name: name.to_string(),
            owned: false,
        },
    );
    links
        .children
        .entry(parent)
        .or_default()
        .insert(name.to_string(), child);
    Ok(())
}

/// Records that `child` is the owned child `name` of `owner` (called by the
/// derive's init glue).
pub(crate) fn link_owned(child: &ObjectHeader, owner: NonNull<ObjectHeader>, name: &'static str) {
    let mut links = links();
    child.set_tree_flag();
    // The child can ask for its owner (`container()`) through this entry.
    // SAFETY: the owner is initialising this child, so it is allocated.
    unsafe { owner.as_ref() }.set_shared();
    links.parents.insert(
        HeaderPtr::of(child),
        ParentLink {
            parent: HeaderPtr(owner),
            name: name.to_string(),
            owned: true,
        },
    );
}

/// Forgets the owner of an owned child (its owner is finalizing).
pub(crate) fn unlink_owned(child: &ObjectHeader) {
    links().parents.remove(&HeaderPtr::of(child));
}

/// Drops every tree link of an object that is finalizing: its own parent
/// link (if any is left) and its dynamic children, released after the lock
/// is dropped (their finalize may take it again).
pub(crate) fn release_links(header: &ObjectHeader) {
    let key = HeaderPtr::of(header);
    let orphans = {
        let mut links = links();
        // Links to this object read `None` from now on; the entry goes
        // while the memory it names is still allocated.
        crate::link::forget_target(key);
        links.parents.remove(&key);
        let orphans = links.children.remove(&key).unwrap_or_default();
        for child in orphans.values() {
            links.parents.remove(&HeaderPtr(child.header_ptr()));
        }
        orphans
    };
    drop(orphans);
}

/// Returns the container at an absolute `path`, creating `container`
/// objects for missing components (like QEMU's `container_get`).
///
/// ```
/// let peripheral = qom_rt::container("/machine/peripheral").unwrap();
/// use qom_rt::prelude::*;
/// assert_eq!(peripheral.canonical_path().as_deref(), Some("/machine/peripheral"));
/// ```
pub fn container(path: &str) -> Result<Owned<Object>> {
    let components = absolute_components(path)?;
    let mut links = links();
    let mut at = root_header();
    for name in components {
        at = match child_by_name(&links, at, name) {
            Some(child) => child,
            None => {
                let made = Owned::<crate::Container>::new().into_object();
                let header = HeaderPtr(made.header_ptr());
                add_child_locked(&mut links, at, name, made)?;
                header
            }
        };
    }
    Ok(owned_at(at))
}

pub(crate) fn absolute_components(path: &str) -> Result<Vec<&str>> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Error::InvalidName {
            name: path.to_string(),
            reason: "an absolute path is needed here (it starts with `/`)",
        });
    };
    Ok(rest.split('/').filter(|c| !c.is_empty()).collect())
}

pub(crate) fn walk(
    links: &Links,
    from: HeaderPtr,
    components: &[&str],
    path: &str,
) -> Result<HeaderPtr> {
    let mut at = from;
    for name in components {
        at = match *name {
            "." => at,
            ".." => parent_of(links, at).map(|(p, _)| p).unwrap_or(at),
            // Name the deepest object found, by its canonical path.
            _ => child_by_name(links, at, name).ok_or_else(|| Error::PathNotFound {
                path: path.to_string(),
                missing: Some(describe(links, at)),
            })?,
        };
    }
    Ok(at)
}

/// Resolves a path to an object, as QOM's `object_resolve_path` does:
/// an absolute path (`/machine/peripheral/usb0/xhci`) is walked from the
/// root; a partial path (`usb0/xhci`) matches any object whose canonical
/// path ends with it and must be unique.
///
/// ```
/// use qom_rt::prelude::*;
/// let b = qom_rt::container("/doc-resolve/a/b").unwrap();
/// let found = qom_rt::resolve_path("/doc-resolve/a/b").unwrap();
/// assert!(Owned::ptr_eq(&found, &b));
/// assert!(Owned::ptr_eq(&qom_rt::resolve_path("doc-resolve/a/b").unwrap(), &b));
/// assert!(qom_rt::resolve_path("/doc-resolve/nothing").is_err());
/// ```
pub fn resolve_path(path: &str) -> Result<Owned<Object>> {
    let links = links();
    if path.starts_with('/') {
        let components = absolute_components(path)?;
        return walk(&links, root_header(), &components, path).map(owned_at);
    }
    let wanted: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if wanted.is_empty() {
        return Err(Error::PathNotFound {
            path: path.to_string(),
            missing: None,
        });
    }
    let mut matches = Vec::new();
    let mut names = Vec::new();
    collect_suffix_matches(&links, root_header(), &mut names, &wanted, &mut matches);
    match matches.len() {
        0 => Err(Error::PathNotFound {
            path: path.to_string(),
            missing: None,
        }),
        1 => Ok(owned_at(matches[0])),
        _ => Err(Error::AmbiguousPath {
            path: path.to_string(),
            candidates: matches.iter().map(|m| describe(&links, *m)).collect(),
        }),
    }
}

fn collect_suffix_matches(
    links: &Links,
    at: HeaderPtr,
    names: &mut Vec<String>,
    wanted: &[&str],
    out: &mut Vec<HeaderPtr>,
) {
    if names.len() >= wanted.len() && names[names.len() - wanted.len()..].iter().eq(wanted.iter()) {
        out.push(at);
    }
    for_each_child(links, at, |name, child| {
        names.push(name.to_string());
        collect_suffix_matches(links, child, names, wanted, out);
        names.pop();
    });
}

/// Prints the tree under an absolute path like HMP's `info qom-tree`: one
/// object a line, `/name (type)`, indented two spaces per level.
///
/// ```
/// qom_rt::container("/doc-tree/a").unwrap();
/// assert_eq!(qom_rt::qom_tree("/doc-tree").unwrap(), "/doc-tree (container)\n  /a (container)\n");
/// ```
pub fn qom_tree(path: &str) -> Result<String> {
    let links = links();
    let components = absolute_components(path)?;
    let top = walk(&links, root_header(), &components, path)?;
    let mut out = String::new();
    let name = components.last().copied().unwrap_or("");
    print_tree(&links, top, ChildName::Whole(name), 0, &mut out);
    Ok(out)
}

/// One `info qom-tree` line per object, depth first. Written with
/// `push_str` rather than `write!`: formatting (padding one `char` at a
/// time) was most of the cost of a large tree.
fn print_tree(links: &Links, at: HeaderPtr, name: ChildName<'_>, depth: usize, out: &mut String) {
    const SPACES: &str = "                                ";
    // SAFETY: alive under the lock.
    let info: &TypeInfo = unsafe { at.get() }.type_info();
    let mut indent = depth * 2;
    while indent > 0 {
        let n = indent.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        indent -= n;
    }
    out.push('/');
    match name {
        ChildName::Whole(name) => out.push_str(name),
        ChildName::Element(field, index) => {
            out.push_str(field);
            out.push('[');
            out.push_str(itoa(index, &mut [0; 20]));
            out.push(']');
        }
    }
    out.push_str(" (");
    out.push_str(info.name());
    out.push_str(")\n");
    for_each_child(links, at, |child_name, child| {
        print_tree(links, child, child_name, depth + 1, out);
    });
}

/// `n` in decimal, written into `buf`.
fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// One child as [`ObjectTree::children`] lists it.
///
/// See [`ObjectTree`] for an example.
#[derive(Debug, Clone)]
pub struct ChildEntry {
    /// Name under the parent (`xhci`, `msix_bars[1]`, `usb0`).
    pub name: String,
    /// The child's dynamic type name.
    pub type_name: &'static str,
    /// How the child is held.
    pub kind: ChildEntryKind,
}

/// How a listed child is held by its parent.
///
/// See [`ObjectTree`] for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildEntryKind {
    /// A `#[child(embedded)]` field.
    Embedded,
    /// A `#[child(owned)]` field.
    Owned,
    /// Added with `add_child`.
    Dynamic,
}

/// Composition-tree operations on every object (in the prelude).
///
/// ```
/// use qom_rt::prelude::*;
/// use qom_rt::ChildEntryKind;
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-tree-leaf")]
/// struct Leaf { parent: ParentField<Object> }
/// impl ObjectImpl for Leaf {}
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-tree-board")]
/// struct Board {
///     parent: ParentField<Object>,
///     #[child(embedded)]
///     uarts: [Leaf; 2],
///     #[child(owned)]
///     flash: Owned<Leaf>,
/// }
/// impl ObjectImpl for Board {}
///
/// let board = Owned::<Board>::new();
/// assert_eq!(board.canonical_path(), None, "detached");
/// qom_rt::container("/doc-tree").unwrap().add_child("b0", board.clone()).unwrap();
/// assert_eq!(board.uarts[1].canonical_path().as_deref(), Some("/doc-tree/b0/uarts[1]"));
///
/// let kinds: Vec<_> = board.children().into_iter().map(|c| (c.name, c.kind)).collect();
/// assert_eq!(kinds[1], ("uarts[1]".to_string(), ChildEntryKind::Embedded));
/// assert_eq!(kinds[2], ("flash".to_string(), ChildEntryKind::Owned));
///
/// let sibling = board.uarts[0].resolve("../flash").unwrap();
/// assert_eq!(sibling.type_name(), "doc-tree-leaf");
/// assert!(board.uarts[0].container::<Board>().is_some());
///
/// board.unparent();
/// assert_eq!(board.uarts[1].canonical_path(), None);
/// ```
pub trait ObjectTree: ObjectType {
    /// The absolute path from the root, or `None` while the object (or an
    /// ancestor) is detached from the root.
    fn canonical_path(&self) -> Option<String> {
        let links = links();
        path_locked(&links, HeaderPtr::of(self.header()))
    }

    /// Adds `child` under this object as `name` (like `device_add id=`):
    /// this object then holds a strong reference on it until `unparent`.
    fn add_child<C: ObjectType>(&self, name: &str, child: Owned<C>) -> Result<()> {
        let mut links = links();
        add_child_locked(
            &mut links,
            HeaderPtr::of(self.header()),
            name,
            child.into_object(),
        )
    }

    /// Detaches the object from its dynamic parent; it finalizes once its
    /// last reference is gone. Declared (embedded or owned) children stay
    /// where their container put them, so for them this does nothing.
    /// Links to the object do not keep it alive: once it finalizes they
    /// read `None` (see [`Link`](crate::Link)).
    fn unparent(&self) {
        let key = HeaderPtr::of(self.header());
        let released = {
            let mut links = links();
            let dynamic = links.parents.get(&key).is_some_and(|link| !link.owned);
            match links.parents.remove_entry(&key) {
                Some((_, link)) if dynamic => links
                    .children
                    .get_mut(&link.parent)
                    .and_then(|m| m.remove(&link.name)),
                Some((k, link)) => {
                    links.parents.insert(k, link);
                    None
                }
                None => None,
            }
        };
        // Dropped after the lock: this may finalize the object.
        drop(released);
    }

    /// Resolves a path relative to this object (`..` is the parent).
    fn resolve(&self, relative: &str) -> Result<Owned<Object>> {
        let links = links();
        let components: Vec<&str> = relative.split('/').filter(|c| !c.is_empty()).collect();
        walk(&links, HeaderPtr::of(self.header()), &components, relative).map(owned_at)
    }

    /// The object's children, as `info qom-tree` orders them.
    fn children(&self) -> Vec<ChildEntry> {
        let links = links();
        let mut out = Vec::new();
        for_each_child_entry(&links, HeaderPtr::of(self.header()), |name, child, kind| {
            out.push(ChildEntry {
                name,
                // SAFETY: alive under the lock.
                type_name: unsafe { child.get() }.type_info().name(),
                kind,
            });
        });
        out
    }

    /// The object that declares this one as a child (`#[child(embedded)]`
    /// or `#[child(owned)]`), if it is a `C` and still live. Returns `None`
    /// once that container has begun finalizing, so a child that outlives
    /// its container cannot reach the container's state.
    fn container<C: ObjectType>(&self) -> Option<Owned<C>> {
        let me = HeaderPtr::of(self.header());
        // An embedded child keeps its container's header readable by itself
        // (no lock: this is on the guest-access path); the lock keeps an
        // owner alive while its link to an owned child exists.
        let (header, _links) = match self.header().container_header() {
            Some(container) => (HeaderPtr(container), None),
            None => {
                let links = links();
                match links.parents.get(&me) {
                    Some(link) if link.owned => (link.parent, Some(links)),
                    _ => return None,
                }
            }
        };
        // SAFETY: alive, as above.
        let h = unsafe { header.get() };
        // `try_acquire_ref` fails once the container's count reached zero,
        // i.e. once it has begun finalizing.
        if !h.type_info().is_a(C::TYPE_INFO) || !h.try_acquire_ref() {
            return None;
        }
        // SAFETY: the dynamic type is a `C` with this header; we transfer
        // the reference just taken.
        Some(unsafe { Owned::from_counted(header.0.byte_sub(C::HEADER_OFFSET).cast()) })
    }
}

impl<T: ObjectType> ObjectTree for T {}

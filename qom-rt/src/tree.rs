//! The composition tree: one process-wide root, named children, canonical
//! paths, path resolution and the `info qom-tree` printout.
//!
//! Declared children (embedded and owned fields) are in the tree from
//! birth at no cost: their names and places come from each type's static
//! child table. Only dynamic children (`add_child`) live in the side
//! tables (`tree_links`), behind one lock. Every walk follows the rule in
//! `walk`: it reads only objects it holds, and steps up only to a live
//! object, by a try-acquire.

use crate::error::{Error, Result};
use crate::kernel::object::{Object, ObjectType};
use crate::kernel::owned::Owned;
use crate::kernel::tree_links::{HeaderPtr, ParentLink};
pub use crate::kernel::walk::ChildEntryKind;
use crate::kernel::walk::Walk;
use std::sync::OnceLock;

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

fn root_object() -> &'static Owned<Object> {
    static ROOT: OnceLock<Owned<Object>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Owned::<crate::Container>::new().into_object();
        crate::kernel::tree_links::set_root(HeaderPtr::of(root.header()));
        root
    })
}

/// The root's header. The root lives for the whole process.
pub(crate) fn root_header() -> HeaderPtr {
    HeaderPtr::of(root_object().header())
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

/// The object above `at` by address only (no field is read, so nothing
/// needs to be held beyond `at`): its declaring container, on which it
/// holds a storage reference, or its dynamic parent, allocated while the
/// lock is held.
fn parent_address(walk: &mut Walk, at: HeaderPtr) -> Option<HeaderPtr> {
    // SAFETY: allocated: `at` is held, or above a held object.
    let header = unsafe { at.get() };
    if let Some(container) = header.declaring_container() {
        return Some(HeaderPtr(container));
    }
    let links = walk.links()?;
    links.parents.get(&at).map(|link| link.parent)
}

/// Adds `child` under `parent` (held) as `name`. On error the child is
/// released after the lock, with the walk.
fn add_child_in(
    walk: &mut Walk,
    parent: HeaderPtr,
    name: &str,
    child: Owned<Object>,
) -> Result<()> {
    let checked = check_add_child(walk, parent, name, &child);
    if let Err(e) = checked {
        walk.release_later(child);
        return Err(e);
    }
    let child_header = HeaderPtr(child.header_ptr());
    // SAFETY: both held: the caller holds `parent`, we hold `child`.
    unsafe {
        parent.get().set_tree_flag();
        child_header.get().set_tree_flag();
    }
    let Some(links) = walk.links() else {
        unreachable!("only diagnostics walks give up on the lock");
    };
    links.parents.insert(
        child_header,
        ParentLink {
            parent,
            name: name.to_string(),
        },
    );
    links
        .children
        .entry(parent)
        .or_default()
        .insert(name.to_string(), child);
    Ok(())
}

fn check_add_child(
    walk: &mut Walk,
    parent: HeaderPtr,
    name: &str,
    child: &Owned<Object>,
) -> Result<()> {
    check_child_name(name)?;
    let child_header = HeaderPtr(child.header_ptr());
    if parent_address(walk, child_header).is_some() {
        return Err(Error::AlreadyParented {
            object: child.header().type_info().name().to_string(),
            path: walk.describe(child_header),
        });
    }
    let mut at = Some(parent);
    let mut is_cycle = child_header == root_header();
    while let Some(p) = at.filter(|_| !is_cycle) {
        is_cycle = p == child_header;
        at = parent_address(walk, p);
    }
    if is_cycle {
        return Err(Error::Cycle {
            parent: walk.describe(parent),
            name: name.to_string(),
        });
    }
    if walk.child(parent, name).is_some() {
        return Err(Error::DuplicateChild {
            parent: walk.describe(parent),
            name: name.to_string(),
        });
    }
    Ok(())
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
    let mut walk = Walk::new();
    let mut at = root_header();
    for name in components {
        at = match walk.child(at, name) {
            Some(child) => child,
            None => {
                let made = Owned::<crate::Container>::new().into_object();
                let header = HeaderPtr(made.header_ptr());
                add_child_in(&mut walk, at, name, made)?;
                header
            }
        };
    }
    walk.result(at, path)
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

/// Resolves a path to an object, as QOM's `object_resolve_path` does:
/// an absolute path (`/machine/peripheral/usb0/xhci-core`) is walked from the
/// root; a partial path (`usb0/xhci-core`) matches any object whose canonical
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
    let mut walk = Walk::new();
    if path.starts_with('/') {
        let components = absolute_components(path)?;
        let found = walk.follow(root_header(), &components, path)?;
        return walk.result(found, path);
    }
    let wanted: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if wanted.is_empty() {
        return Err(Error::PathNotFound {
            path: path.to_string(),
            missing: None,
        });
    }
    let mut matches = Vec::new();
    collect_suffix_matches(
        &mut walk,
        root_header(),
        &mut Vec::new(),
        &wanted,
        &mut matches,
    );
    match matches.as_slice() {
        [] => Err(Error::PathNotFound {
            path: path.to_string(),
            missing: None,
        }),
        [one] => walk.result(*one, path),
        _ => Err(Error::AmbiguousPath {
            path: path.to_string(),
            candidates: matches.iter().map(|m| walk.describe(*m)).collect(),
        }),
    }
}

/// Every object under `at` (held) whose path ends with `wanted`.
fn collect_suffix_matches(
    walk: &mut Walk,
    at: HeaderPtr,
    names: &mut Vec<String>,
    wanted: &[&str],
    out: &mut Vec<HeaderPtr>,
) {
    if names.len() >= wanted.len() && names[names.len() - wanted.len()..].iter().eq(wanted.iter()) {
        out.push(at);
    }
    for (name, child, _) in walk.children(at) {
        names.push(name);
        collect_suffix_matches(walk, child, names, wanted, out);
        names.pop();
    }
}

/// Prints the tree under an absolute path like HMP's `info qom-tree`: one
/// object a line, `/name (type)`, indented two spaces per level.
///
/// ```
/// qom_rt::container("/doc-tree/a").unwrap();
/// assert_eq!(qom_rt::qom_tree("/doc-tree").unwrap(), "/doc-tree (container)\n  /a (container)\n");
/// ```
pub fn qom_tree(path: &str) -> Result<String> {
    let components = absolute_components(path)?;
    let mut walk = Walk::new();
    let top = walk.follow(root_header(), &components, path)?;
    let mut out = String::new();
    let name = components.last().copied().unwrap_or("");
    print_tree(&mut walk, top, name, 0, &mut out);
    Ok(out)
}

/// One `info qom-tree` line per object, depth first, under `at` (held).
/// Written with `push_str` rather than `write!`: formatting (padding one
/// `char` at a time) was most of the cost of a large tree.
fn print_tree(walk: &mut Walk, at: HeaderPtr, name: &str, depth: usize, out: &mut String) {
    const SPACES: &str = "                                ";
    // SAFETY: `at` is held.
    let info = unsafe { at.get() }.type_info();
    let mut indent = depth * 2;
    while indent > 0 {
        let n = indent.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        indent -= n;
    }
    out.push('/');
    out.push_str(name);
    out.push_str(" (");
    out.push_str(info.name());
    out.push_str(")\n");
    for (child_name, child, _) in walk.children(at) {
        print_tree(walk, child, &child_name, depth + 1, out);
    }
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
    /// object above it) is detached from the root or no longer live.
    fn canonical_path(&self) -> Option<String> {
        Walk::new().path(HeaderPtr::of(self.header()))
    }

    /// Adds `child` under this object as `name` (like `device_add id=`):
    /// this object then holds a strong reference on it until `unparent`.
    /// On error the child is dropped (after the tree lock is released).
    fn add_child<C: ObjectType>(&self, name: &str, child: Owned<C>) -> Result<()> {
        let mut walk = Walk::new();
        add_child_in(
            &mut walk,
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
        if !self.header().has_tree_flag() {
            return;
        }
        let mut walk = Walk::new();
        let Some(links) = walk.links() else {
            return;
        };
        let released = links.parents.remove(&key).and_then(|link| {
            links
                .children
                .get_mut(&link.parent)
                .and_then(|map| map.remove(&link.name))
        });
        // Released after the lock: this may finalize the object.
        if let Some(released) = released {
            walk.release_later(released);
        }
    }

    /// Resolves a path relative to this object (`..` is the parent; it is
    /// an error once the container this object is declared in has begun
    /// finalizing).
    fn resolve(&self, relative: &str) -> Result<Owned<Object>> {
        let components: Vec<&str> = relative.split('/').filter(|c| !c.is_empty()).collect();
        let mut walk = Walk::new();
        let found = walk.follow(HeaderPtr::of(self.header()), &components, relative)?;
        walk.result(found, relative)
    }

    /// The object's children, as `info qom-tree` orders them.
    fn children(&self) -> Vec<ChildEntry> {
        let mut walk = Walk::new();
        let children = walk.children(HeaderPtr::of(self.header()));
        children
            .into_iter()
            .map(|(name, child, kind)| ChildEntry {
                name,
                // SAFETY: a child of this object, which holds it.
                type_name: unsafe { child.get() }.type_info().name(),
                kind,
            })
            .collect()
    }

    /// The object that declares this one as a child (`#[child(embedded)]`
    /// or `#[child(owned)]`), if it is a `C` and still live. Returns `None`
    /// once that container has begun finalizing, so a child that outlives
    /// its container cannot reach the container's state. Takes no lock:
    /// this is on the guest-access path.
    fn container<C: ObjectType>(&self) -> Option<Owned<C>> {
        // Allocated: this object holds a storage reference on it.
        let container = HeaderPtr(self.header().declaring_container()?);
        // SAFETY: as above.
        if !unsafe { container.get() }.type_info().is_a(C::TYPE_INFO) {
            return None;
        }
        // Fails once the container's finalize has begun. A type read just
        // before is then stale, but the reference is refused anyway.
        let object = Walk::acquire(container)?;
        // SAFETY: the dynamic type is a `C` with this header; the
        // reference is transferred.
        Some(unsafe {
            let at = object.header_ptr().byte_sub(C::HEADER_OFFSET).cast();
            core::mem::forget(object);
            Owned::from_counted(at)
        })
    }
}

impl<T: ObjectType> ObjectTree for T {}

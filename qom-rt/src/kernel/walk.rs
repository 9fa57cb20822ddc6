//! Walking the composition tree safely: the one rule every step follows.
//!
//! A walk may read an object's fields (its owned children, its child
//! table) only while the object is *held*: the walk started there (the
//! caller has a reference to it, or is running its own hook), or it is a
//! declared or dynamic child of a held object (its container holds it; a
//! dynamic child is held by its parent's map, under the lock the walk
//! keeps once it has looked there), or the walk took a strong reference
//! on it. Stepping *up* -- to the container a child is declared in, or to
//! a dynamic parent -- is the step that leaves what the caller holds, so
//! it takes a strong reference with a try-acquire that fails on an object
//! that is not live: a walk never enters a finalizing or finalized object,
//! and an object is unreachable until its whole allocation is built (see
//! `lifecycle`). Every strong reference a walk takes or hands out marks
//! the object's containers `SHARED`, as `Owned::from` does.
//!
//! The tree lock is taken only when a step needs the side tables, and the
//! strong references are released only after it.

use crate::error::{Error, Result};
use crate::kernel::header::ObjectHeader;
use crate::kernel::object::Object;
use crate::kernel::owned::Owned;
use crate::kernel::tree_links::{links, try_links, HeaderPtr, Links};
use crate::kernel::type_info::ChildKind;
use std::sync::MutexGuard;

/// A child's name without allocating: a field or dynamic child's name, or
/// an array element `field[i]`, formatted only when printed.
#[derive(Clone, Copy)]
pub(crate) enum ChildName<'a> {
    Whole(&'a str),
    Element(&'a str, usize),
}

impl ChildName<'_> {
    /// Whether the name is exactly `wanted` (`timers[1]`, not `timers[01]`).
    pub(crate) fn is(self, wanted: &str) -> bool {
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

/// The declared (embedded and owned) children of a held object, from its
/// type's tables: parent types' first, in declaration order.
pub(crate) fn for_each_declared(
    at: HeaderPtr,
    mut f: impl FnMut(ChildName<'_>, HeaderPtr, ChildKind),
) {
    // SAFETY: `at` is held (module docs).
    let info = unsafe { at.get() }.type_info();
    for level in info.ancestors() {
        // The start of that level's struct, with the allocation's
        // provenance.
        // SAFETY: every level shares the header; `header_offset` is inside
        // the object.
        let start = unsafe { at.0.cast::<u8>().byte_sub(level.header_offset) };
        for child in level.children() {
            for i in 0..child.count() {
                // SAFETY: `start` is a held, built instance of `level` and
                // `i` is in range.
                let header = unsafe { child.element_header(start, i) };
                let name = match child.kind() {
                    ChildKind::Embedded { array: true, .. } => ChildName::Element(child.name(), i),
                    _ => ChildName::Whole(child.name()),
                };
                f(name, HeaderPtr(header), child.kind());
            }
        }
    }
}

/// How a listed child is held by its parent.
///
/// See [`ObjectTree`](crate::ObjectTree) for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildEntryKind {
    /// A `#[child(embedded)]` field.
    Embedded,
    /// A `#[child(owned)]` field.
    Owned,
    /// Added with `add_child`.
    Dynamic,
}

/// What is above an object, for `..`.
pub(crate) enum Parent {
    /// The root, or a detached object.
    None,
    /// Its container or dynamic parent, now held by the walk.
    Live(HeaderPtr),
    /// Its container, which has begun finalizing: out of reach.
    NotLive(HeaderPtr),
}

/// One walk of the tree: the lock once taken, and the strong references
/// the walk holds, released after the lock.
pub(crate) struct Walk {
    // Field order is drop order: the lock goes before the references.
    links: Option<MutexGuard<'static, Links>>,
    /// Give up (answer "unknown") rather than wait for the lock: for
    /// diagnostics from a thread that may hold it.
    diagnostics: bool,
    held: Vec<Owned<Object>>,
}

impl Walk {
    pub(crate) fn new() -> Walk {
        Walk {
            links: None,
            diagnostics: false,
            held: Vec::new(),
        }
    }

    /// A walk that never waits for the lock.
    pub(crate) fn for_diagnostics() -> Walk {
        Walk {
            diagnostics: true,
            ..Walk::new()
        }
    }

    /// The side tables, locked on first use; `None` only for a
    /// diagnostics walk that would have had to wait.
    pub(crate) fn links(&mut self) -> Option<&mut Links> {
        if self.links.is_none() {
            self.links = if self.diagnostics {
                try_links()
            } else {
                Some(links())
            };
        }
        self.links.as_deref_mut()
    }

    /// Keeps `object` until the walk ends, after the lock is released
    /// (dropping it may finalize it, and its hooks may take the lock).
    pub(crate) fn release_later(&mut self, object: Owned<Object>) {
        self.held.push(object);
    }

    /// A strong reference on the object at `at` if it is live, for the
    /// caller: a reference made other than from one, so the object's
    /// containers become `SHARED` first. `at` must be allocated.
    pub(crate) fn acquire(at: HeaderPtr) -> Option<Owned<Object>> {
        // SAFETY: allocated (caller).
        let h = unsafe { at.get() };
        if let Some(container) = h.declaring_container() {
            crate::kernel::header::mark_shared(container);
        }
        // SAFETY: `Object` is the header at offset 0; the reference just
        // taken is transferred.
        h.try_acquire_ref()
            .then(|| unsafe { Owned::from_counted(at.0.cast()) })
    }

    /// Holds the object at `at` for the rest of the walk if it is live.
    fn hold(&mut self, at: HeaderPtr) -> bool {
        match Walk::acquire(at) {
            Some(object) => {
                self.held.push(object);
                true
            }
            None => false,
        }
    }

    /// The object above `at` (held), held by the walk if it is live.
    pub(crate) fn parent(&mut self, at: HeaderPtr) -> Parent {
        // SAFETY: `at` is held.
        let header = unsafe { at.get() };
        let above = match header.declaring_container() {
            // Allocated: `at` holds a storage reference on it.
            Some(container) => HeaderPtr(container),
            None => {
                if !header.has_tree_flag() {
                    return Parent::None;
                }
                let Some(links) = self.links() else {
                    return Parent::None;
                };
                match links.parents.get(&at) {
                    // Allocated while the lock is held (`tree_links`).
                    Some(link) => link.parent,
                    None => return Parent::None,
                }
            }
        };
        if self.hold(above) {
            Parent::Live(above)
        } else {
            Parent::NotLive(above)
        }
    }

    /// The name `child` has under `parent` (both held).
    fn name_in(&mut self, parent: HeaderPtr, child: HeaderPtr) -> Option<String> {
        // SAFETY: `child` is held.
        if unsafe { child.get() }.declaring_container() == Some(parent.0) {
            let mut name = None;
            for_each_declared(parent, |n, c, _| {
                if c == child {
                    name = Some(n.to_string());
                }
            });
            return name;
        }
        let links = self.links()?;
        links.parents.get(&child).map(|link| link.name.clone())
    }

    /// The child of `at` (held) named `name`; held as `at`'s child.
    pub(crate) fn child(&mut self, at: HeaderPtr, name: &str) -> Option<HeaderPtr> {
        let mut found = None;
        for_each_declared(at, |child_name, child, _| {
            if found.is_none() && child_name.is(name) {
                found = Some(child);
            }
        });
        // SAFETY: `at` is held.
        if found.is_none() && unsafe { at.get() }.has_tree_flag() {
            let map = self.links()?.children.get(&at)?;
            found = map.get(name).map(|child| HeaderPtr(child.header_ptr()));
        }
        found
    }

    /// The children of `at` (held) as `info qom-tree` orders them:
    /// declared children, then dynamic ones by name.
    pub(crate) fn children(&mut self, at: HeaderPtr) -> Vec<(String, HeaderPtr, ChildEntryKind)> {
        let mut out = Vec::new();
        for_each_declared(at, |name, child, kind| {
            let kind = match kind {
                ChildKind::Embedded { .. } => ChildEntryKind::Embedded,
                ChildKind::Owned => ChildEntryKind::Owned,
            };
            out.push((name.to_string(), child, kind));
        });
        // SAFETY: `at` is held.
        if unsafe { at.get() }.has_tree_flag() {
            if let Some(map) = self.links().and_then(|links| links.children.get(&at)) {
                for (name, child) in map {
                    out.push((
                        name.clone(),
                        HeaderPtr(child.header_ptr()),
                        ChildEntryKind::Dynamic,
                    ));
                }
            }
        }
        out
    }

    /// The canonical path of `at` (held), or `None` if it or an object
    /// above it is detached from the root or no longer live.
    pub(crate) fn path(&mut self, at: HeaderPtr) -> Option<String> {
        let mut names = Vec::new();
        let mut cur = at;
        loop {
            match self.parent(cur) {
                Parent::Live(parent) => {
                    names.push(self.name_in(parent, cur)?);
                    cur = parent;
                }
                // Only the root is at the top of a path.
                Parent::None if crate::kernel::tree_links::is_root(cur) => break,
                Parent::None | Parent::NotLive(_) => return None,
            }
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

    /// How error messages name an object: its path, or its type.
    pub(crate) fn describe(&mut self, at: HeaderPtr) -> String {
        // SAFETY: `at` is held.
        let name = unsafe { at.get() }.type_info().name();
        self.path(at)
            .unwrap_or_else(|| format!("<detached {name}>"))
    }

    /// Follows `components` from `from` (held); `path` is the whole path,
    /// for errors. The object reached is held.
    pub(crate) fn follow(
        &mut self,
        from: HeaderPtr,
        components: &[&str],
        path: &str,
    ) -> Result<HeaderPtr> {
        let mut at = from;
        for name in components {
            at = match *name {
                "." => at,
                ".." => match self.parent(at) {
                    Parent::Live(parent) => parent,
                    Parent::None if crate::kernel::tree_links::is_root(at) => at,
                    Parent::None => {
                        let reason = format!("`{}` has no parent", self.describe(at));
                        return Err(Error::PathUnreachable {
                            path: path.to_string(),
                            reason,
                        });
                    }
                    Parent::NotLive(container) => {
                        // SAFETY: allocated: `at` holds storage on it.
                        let container = unsafe { container.get() }.type_info().name();
                        let reason = format!(
                            "the `{container}` that `{}` is declared in has begun finalizing",
                            self.describe(at)
                        );
                        return Err(Error::PathUnreachable {
                            path: path.to_string(),
                            reason,
                        });
                    }
                },
                _ => match self.child(at, name) {
                    Some(child) => child,
                    None => {
                        // Name the deepest object found, by its path.
                        let missing = Some(self.describe(at));
                        return Err(Error::PathNotFound {
                            path: path.to_string(),
                            missing,
                        });
                    }
                },
            };
        }
        Ok(at)
    }

    /// A strong reference on the object a walk reached, for the caller.
    pub(crate) fn result(&mut self, at: HeaderPtr, path: &str) -> Result<Owned<Object>> {
        Walk::acquire(at).ok_or_else(|| Error::PathUnreachable {
            path: path.to_string(),
            // SAFETY: `at` is held.
            reason: format!("`{}` is finalizing", unsafe { at.get() }.type_info().name()),
        })
    }
}

/// The canonical path of an object for a panic message, without waiting
/// for the tree lock (the panicking thread may hold it).
pub(crate) fn path_for_diagnostics(header: &ObjectHeader) -> Option<String> {
    Walk::for_diagnostics().path(HeaderPtr::of(header))
}

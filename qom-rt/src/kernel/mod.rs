//! The kernel of the runtime: the modules that run while an object
//! finalizes, and nothing else. Everything else in the crate (casts,
//! classes, the registry, embedding, the tree and link APIs, properties,
//! listings, graphs) is built on these and never imported by them, so the
//! only import cycles of the crate are inside this directory (a type's
//! table names its finalize function; finalize walks the tree's side
//! tables; walks read type tables). The rules they implement, and why each
//! shortcut is sound, are in the design document (`book/src/design.md`).
//!
//! * `header`: the object header, its two counts and its flags.
//! * `object`: `ObjectType`, `ObjectImpl`, `ParentField`, `Object`.
//! * `type_info`, `tables`: a type's static information and the tables it
//!   points to (children, properties, classes, interfaces).
//! * `lifecycle`: build, finalize, free; the only code that decides when
//!   hooks run and when memory goes.
//! * `owned`: `Owned<T>`, a strong reference.
//! * `tree_links`, `walk`: the composition tree's side tables and their
//!   lock, and the one way to walk the tree.
//! * `link_targets`: the registry of link targets and its lock.
//! * `sync`: the atomics (loom's under `--cfg loom`).
//!
//! # What may run during finalize
//!
//! The finalize sequence runs user code only as hooks (`finalize`), field
//! drops and the finalize of other objects (a released child, a dynamic
//! child, a last reference dropped by a hook), each under a panic guard,
//! and never while holding a kernel lock.
//!
//! # Lock order
//!
//! 1. the tree lock (`tree_links::links`), guarding dynamic children and
//!    their parent links;
//! 2. the link-target lock (`link_targets`), a read-write lock.
//!
//! A thread holding the second never takes the first. Neither is held
//! while an object may finalize: entries removed under a lock, and strong
//! references a walk took, are released after it.

pub(crate) mod header;
pub(crate) mod lifecycle;
pub(crate) mod link_targets;
pub(crate) mod object;
pub(crate) mod owned;
pub(crate) mod sync;
pub(crate) mod tables;
pub(crate) mod tree_links;
pub(crate) mod type_info;
pub(crate) mod walk;

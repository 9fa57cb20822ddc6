//! The atomics the runtime counts with: `core`'s normally, `loom`'s when
//! built with `--cfg loom` so that the model checker explores every
//! interleaving of the reference-counting code (the object's dynamic type,
//! which finalize switches, included).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize};

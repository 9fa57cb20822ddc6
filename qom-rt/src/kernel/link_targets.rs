//! The registry of link targets: a process-wide table that maps a
//! never-reused 64-bit *epoch* to a target's header. A `Link<T>` stores
//! only the epoch. The target's finalizer removes its entry (under the
//! table's write lock, from `tree_links::release_links`) before its memory
//! can be freed, so while an entry exists the header it names is readable;
//! epochs are never reused, so a new object at the same address is never
//! mistaken for the old one.
//!
//! Lock order: the tree lock (`tree_links`), then this one.

use crate::kernel::header::ObjectHeader;
use crate::kernel::object::Object;
use crate::kernel::owned::Owned;
use crate::kernel::tree_links::{HeaderPtr, PtrHash};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock, RwLockReadGuard};

/// Takes a strong reference on a registered target, found under the
/// table's lock, while it is live -- and, for a target embedded in a
/// container, while that container is live too: after that the target
/// must not be used (an embedded child's functional lifetime), even if a
/// reference kept its bytes.
pub(crate) fn upgrade(header: HeaderPtr) -> Option<Owned<Object>> {
    // SAFETY: registered targets are readable while the lock is held
    // (module docs).
    let h = unsafe { header.get() };
    if let Some(container) = h.embedding_container() {
        // SAFETY: the target holds a storage reference on its container
        // until its own finalize ends, which has not happened: the
        // container's header is readable. A snapshot suffices: if the
        // container begins finalizing right after, the reference below is
        // one more on a child that is still live, as if taken just before.
        if !unsafe { container.as_ref() }.is_live() {
            return None;
        }
    }
    // Fails once the target's finalize has begun (as `Weak::upgrade`); a
    // strong reference made other than from one, so it marks the
    // target's containers shared, as `Owned::from` does.
    crate::kernel::walk::Walk::acquire(header)
}

/// The registry of link targets (module docs).
#[derive(Default)]
pub(crate) struct Targets {
    by_epoch: HashMap<u64, HeaderPtr, PtrHash>,
    by_header: HashMap<HeaderPtr, u64, PtrHash>,
    last_epoch: u64,
}

impl Targets {
    /// The header registered under `epoch`, unless its target's finalize
    /// has forgotten it.
    pub(crate) fn target(&self, epoch: u64) -> Option<HeaderPtr> {
        self.by_epoch.get(&epoch).copied()
    }
}

fn targets_lock() -> &'static RwLock<Targets> {
    static TARGETS: OnceLock<RwLock<Targets>> = OnceLock::new();
    TARGETS.get_or_init(Default::default)
}

/// The registry, for reading (a panic while it is held leaves it
/// consistent: every update is a pair of inserts or removes).
pub(crate) fn targets_read() -> RwLockReadGuard<'static, Targets> {
    targets_lock().read().unwrap_or_else(|e| e.into_inner())
}

/// Registers `header` as a link target; returns its epoch, or 0 (unset)
/// if the object is finalizing.
pub(crate) fn register(header: &ObjectHeader) -> u64 {
    // The caller reached the object through a reference, so a zero count
    // means the caller is the object's own finalize hook: the link would
    // read `None` anyway, and registering it now could outlive the
    // finalizer's removal.
    if header.ref_count() == 0 {
        return 0;
    }
    let key = HeaderPtr::of(header);
    let mut targets = targets_lock().write().unwrap_or_else(|e| e.into_inner());
    if let Some(&epoch) = targets.by_header.get(&key) {
        return epoch;
    }
    targets.last_epoch += 1;
    let epoch = targets.last_epoch;
    targets.by_epoch.insert(epoch, key);
    targets.by_header.insert(key, epoch);
    // The finalizer removes the entry only if this flag is set; it reads
    // the flag after synchronising with our reference's release.
    header.set_tree_flag();
    epoch
}

/// Forgets a target that is finalizing (called by the tree's
/// `release_links`, before the object's memory can be freed).
pub(crate) fn forget_target(header: HeaderPtr) {
    let mut targets = targets_lock().write().unwrap_or_else(|e| e.into_inner());
    if let Some(epoch) = targets.by_header.remove(&header) {
        targets.by_epoch.remove(&epoch);
    }
}

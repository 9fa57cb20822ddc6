//! The composition tree's side tables: dynamic children (`add_child`) and
//! their parent links, behind one lock. Declared children (embedded and
//! owned fields) are not here: their names and places come from each
//! type's static child table, and an owned child finds its owner through
//! its own allocation.
//!
//! While the lock is held, every object named by an entry is allocated: a
//! parent holds a strong reference on each dynamic child (the map's
//! `Owned`), and an object's finalize removes its entries under the lock
//! before its memory can go. The lock is never held while an object may
//! finalize: entries removed under it are released after it.
//!
//! Lock order: this lock, then the link targets' (`link::targets`).

use crate::kernel::header::ObjectHeader;
use crate::kernel::object::Object;
use crate::kernel::owned::Owned;
use core::ptr::NonNull;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};

/// A header pointer with the allocation's provenance, usable as a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HeaderPtr(pub(crate) NonNull<ObjectHeader>);

// SAFETY: a `HeaderPtr` is only dereferenced while something keeps the
// object allocated (a strong reference, a storage reference, or a lock
// whose entries name it: module docs); objects are `Send + Sync`.
unsafe impl Send for HeaderPtr {}
// SAFETY: as for `Send`: sharing the address is harmless, dereferencing it
// is governed as above.
unsafe impl Sync for HeaderPtr {}

impl HeaderPtr {
    /// With the allocation's provenance: a walk reaches sibling fields
    /// and children that a pointer made from `&ObjectHeader` does not cover.
    pub(crate) fn of(header: &ObjectHeader) -> Self {
        HeaderPtr(header.allocation_ptr_at(NonNull::from(header)))
    }

    /// # Safety
    /// The object must be allocated for `'a` (see the module docs).
    pub(crate) unsafe fn get<'a>(self) -> &'a ObjectHeader {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.as_ref() }
    }
}

/// Where a dynamic child hangs.
pub(crate) struct ParentLink {
    pub(crate) parent: HeaderPtr,
    pub(crate) name: String,
}

/// The side tables.
#[derive(Default)]
pub(crate) struct Links {
    /// Parent of each dynamic child, by the child's header.
    pub(crate) parents: HashMap<HeaderPtr, ParentLink, PtrHash>,
    /// Dynamic children of each object, by the parent's header.
    pub(crate) children: HashMap<HeaderPtr, BTreeMap<String, Owned<Object>>, PtrHash>,
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

/// Locks the side tables. A panic while holding the lock leaves the maps
/// consistent (every update is a single insert or remove), so poisoning
/// is ignored.
pub(crate) fn links() -> MutexGuard<'static, Links> {
    links_mutex().lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks the side tables unless that would wait (for diagnostics from a
/// thread that may hold the lock already).
pub(crate) fn try_links() -> Option<MutexGuard<'static, Links>> {
    match links_mutex().try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Drops every side-table entry of an object that is finalizing: its own
/// parent link (if any is left), its dynamic children, and its link-target
/// registration. The children are released after the lock (their finalize
/// may take it again), without unwinding: returns the panics their hooks
/// raised, in `lifecycle::PANIC_UNIT`s, for the finalize in progress.
pub(crate) fn release_links(header: &ObjectHeader) -> usize {
    let key = HeaderPtr::of(header);
    let orphans = {
        let mut links = links();
        // Links to this object read `None` from now on; the entry goes
        // while the memory it names is still allocated.
        crate::kernel::link_targets::forget_target(key);
        links.parents.remove(&key);
        let orphans = links.children.remove(&key).unwrap_or_default();
        for child in orphans.values() {
            links.parents.remove(&HeaderPtr(child.header_ptr()));
        }
        orphans
    };
    orphans
        .into_values()
        .map(|child| {
            let header = child.header_ptr();
            core::mem::forget(child);
            // SAFETY: the map's reference, given up here.
            unsafe { crate::kernel::lifecycle::release_nested(header) }
        })
        .sum()
}

/// The root of the composition tree, once the tree (above the kernel)
/// has made it: a walk's `..` and a path end there.
static ROOT: OnceLock<HeaderPtr> = OnceLock::new();

/// Records the root (called once, by the tree, when it makes it).
pub(crate) fn set_root(root: HeaderPtr) {
    let _ = ROOT.set(root);
}

/// Whether `at` is the root.
pub(crate) fn is_root(at: HeaderPtr) -> bool {
    ROOT.get() == Some(&at)
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[derive(QomObject)]
    #[qom(name = "kernel-test-leaf")]
    struct Leaf {
        parent: ParentField<Object>,
    }
    impl ObjectImpl for Leaf {}

    #[derive(QomObject)]
    #[qom(name = "kernel-test-owner")]
    struct Owner {
        parent: ParentField<Object>,
        #[child(embedded)]
        embedded: Leaf,
        #[child(owned)]
        owned: Owned<Leaf>,
    }
    impl ObjectImpl for Owner {}

    /// Creating and dropping objects with embedded and owned children
    /// never takes the tree lock, so threads creating objects do not
    /// serialise on it: here it is held for the whole time another thread
    /// creates and drops them.
    #[test]
    fn creating_objects_never_takes_the_tree_lock() {
        let rounds = if cfg!(miri) { 3 } else { 10_000 };
        let held = super::links();
        let (done, finished) = mpsc::channel();
        let creator = std::thread::spawn(move || {
            for _ in 0..rounds {
                let owner = Owned::<Owner>::new();
                let child = owner.owned.clone();
                assert!(child.container::<Owner>().is_some());
                drop(owner);
                assert!(child.container::<Owner>().is_none());
            }
            done.send(()).unwrap();
        });
        let outcome = finished.recv_timeout(Duration::from_secs(if cfg!(miri) { 600 } else { 60 }));
        drop(held);
        creator.join().unwrap();
        outcome.expect("creating objects waited for the tree lock");
    }
}

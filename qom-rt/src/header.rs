//! The object header: the 32 bytes every object starts its life with.
//!
//! ```text
//!  offset  field        meaning
//!  0       link         tagged pointer with the allocation's provenance:
//!                       tag 1: standalone, points at the allocation start
//!                       tag 0: embedded, points at the container's header
//!  8       type_info    &'static TypeInfo of the most-derived type (of
//!                       the level being finalized, during finalize)
//!  16      refs         strong count (`Owned`s + the container's reference
//!                       for an embedded child); finalize runs when it hits 0
//!  24      storage      storage count << 3 | SHARED | TREE_FLAG | FINALIZED
//! ```
//!
//! `link` comes first because it cannot be null: with that niche at offset
//! 0, rustc keeps placing an object's `ParentField` (its header) at the
//! start of the object, as C QOM places `parent_obj`.
//!
//! `refs` is the logical life (like `Arc`'s strong count); `storage` counts
//! who needs the bytes (the object itself until its finalize ends, plus one
//! per embedded direct child that has not finished finalizing). The state
//! needs one bit: an object is *live* while `refs > 0`, *finalizing* once
//! `refs` reached zero, and *finalized* when the `FINALIZED` bit is set,
//! which happens in the same atomic operation that releases the object's
//! own storage reference at the end of finalize (so finalizing costs no
//! extra read-modify-write).
//!
//! `type_info` changes only while the object finalizes, and only on the
//! finalizer's thread: before each parent type's level runs, it names that
//! parent type, as a C++ object's dynamic type does during its base
//! destructors. The subtype's fields are dropped by then, and a parent hook
//! must not reach them through a downcast or a virtual call. Finalize
//! restores the most-derived type before it releases the storage (freeing
//! needs its layout). It is atomic because a child that outlives its
//! container reads it (`container()`) while the container finalizes.
//!
//! `link` never changes after initialisation, so it is a plain field. It
//! always carries the provenance of the whole allocation, which is how
//! `Owned::from(&child)` and downcasts get pointers that may later write to
//! or free the allocation, even though they start from a narrow `&T`.

use crate::sync::AtomicUsize;
use crate::type_info::TypeInfo;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Lifecycle state of an object, read with [`ObjectHeader::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifeState {
    /// Referenced and usable.
    Live,
    /// The last strong reference is gone; finalize hooks are running.
    Finalizing,
    /// Finalize has finished; only storage may still be held by children.
    Finalized,
}

/// Set when finalize has finished.
pub(crate) const FINALIZED: usize = 0b0001;
/// Set once the object has an entry in the composition tree's side table
/// (a dynamic parent, an owner, or dynamic children), so that finalize only
/// takes the tree lock for objects that need it.
pub(crate) const TREE_FLAG: usize = 0b0010;
/// Set once a strong reference to the object, or to an object embedded in
/// it, can be made other than from a strong reference to the object: it
/// has tree or link entries, an owned child (which can ask for its owner),
/// or an embedded descendant that escaped (an `Owned` made from a borrow,
/// or its own tree or link entries). Set on an object, it is set on every
/// container the object is embedded in, and never cleared.
///
/// While it is clear, whoever holds the only strong reference is the only
/// one who can reach the object and everything embedded in it: dropping
/// that reference finalizes without a read-modify-write, and finalize tears
/// the embedded children down without checking each one's count.
pub(crate) const SHARED: usize = 0b0100;
pub(crate) const STORAGE_SHIFT: u32 = 3;
pub(crate) const STORAGE_ONE: usize = 1 << STORAGE_SHIFT;

/// What `refs` holds while an object is not live (under construction, or
/// from the moment its finalize starts): `isize::MIN`. Live counts are
/// positive, so "not positive as an `isize`" after an increment means a
/// resurrection attempt or an overflow past `isize::MAX` -- the same single
/// compare `Arc::clone` makes for overflow alone. The count is parked here
/// explicitly by the finalizer, it is not an encoding of live counts.
pub(crate) const NOT_LIVE: usize = isize::MIN as usize;

/// What a container's `refs` holds while a finalize that found it
/// unshared (see [`SHARED`]) tears down one level's embedded children: a
/// parked count, marked. The children's own counts are not parked then,
/// so a reference taken on one of them (from its own finalize hook) is
/// recognised as a resurrection by this mark on its container.
pub(crate) const TEARING_DOWN: usize = NOT_LIVE + (1 << 61);

/// Whether `refs` is [`TEARING_DOWN`], give or take the transient
/// increments of failed resurrection attempts.
fn is_tearing_down(refs: usize) -> bool {
    refs.wrapping_sub(TEARING_DOWN).wrapping_add(1 << 32) < 1 << 33
}

const LINK_STANDALONE: usize = 1;

/// The header at the start of every object's memory.
///
/// See the module documentation for the layout. Users never build one; the
/// derive puts it at the bottom of every `ParentField` chain.
#[repr(C)] // the layout the module documentation shows
pub struct ObjectHeader {
    link: NonNull<u8>,
    /// Always a `&'static TypeInfo`; `core`'s atomic even under loom, as it
    /// is no part of the counting protocol the models check.
    type_info: AtomicPtr<TypeInfo>,
    pub(crate) refs: AtomicUsize,
    pub(crate) storage: AtomicUsize,
}

// `type_info` points at immutable static data and the counts are atomics. `link`
// is written once before the object is shared and only read after; what it
// points at is kept alive by the storage count this object holds.
// SAFETY: so sharing or sending the header between threads is sound.
unsafe impl Send for ObjectHeader {}
// SAFETY: see `Send`: no non-atomic field is written after initialisation.
unsafe impl Sync for ObjectHeader {}

/// Where an object's bytes live.
#[derive(Clone, Copy)]
pub(crate) enum Link {
    /// Start of the object's own allocation (provenance of all of it).
    Standalone(NonNull<u8>),
    /// Header of the container this object is embedded in.
    Embedded(NonNull<ObjectHeader>),
}

impl Link {
    #[inline]
    fn encode(self) -> NonNull<u8> {
        match self {
            Link::Standalone(p) => p.map_addr(|a| a | LINK_STANDALONE),
            Link::Embedded(h) => h.cast(),
        }
    }
}

impl ObjectHeader {
    /// A header for an object under construction: no strong reference yet
    /// (so a child's `container()` cannot reach a half-built container),
    /// one storage reference for itself plus one per embedded child.
    #[inline]
    pub(crate) fn new(type_info: &'static TypeInfo, embedded_children: usize, link: Link) -> Self {
        ObjectHeader {
            link: link.encode(),
            type_info: AtomicPtr::new(core::ptr::from_ref(type_info).cast_mut()),
            refs: AtomicUsize::new(NOT_LIVE),
            storage: AtomicUsize::new((1 + embedded_children) << STORAGE_SHIFT),
        }
    }

    /// The dynamic (most-derived) type of the object; while a parent
    /// type's finalize level runs, that parent type.
    #[inline]
    pub fn type_info(&self) -> &'static TypeInfo {
        // Relaxed: the pointer is only replaced by the finalizer, which
        // alone can reach the object's fields then; other readers
        // (`container()`) use it only before taking a reference that
        // fails on a finalizing object.
        let info = self.type_info.load(Ordering::Relaxed);
        // SAFETY: only ever set from a `&'static TypeInfo`.
        unsafe { &*info }
    }

    /// Makes `info` the object's dynamic type, during finalize (see the
    /// module documentation).
    ///
    /// # Safety
    /// Called by the object's unique finalizer, with `info` the type of one
    /// of the object's levels.
    #[inline]
    pub(crate) unsafe fn set_finalizing_type(&self, info: &'static TypeInfo) {
        self.type_info
            .store(core::ptr::from_ref(info).cast_mut(), Ordering::Relaxed);
    }

    /// Current number of strong references (a snapshot, for diagnostics;
    /// 0 once the object is not live).
    pub fn ref_count(&self) -> usize {
        let refs = self.refs.load(Ordering::Relaxed);
        if refs as isize > 0 && !self.in_teardown() {
            refs
        } else {
            0
        }
    }

    /// Whether the object is embedded in a container that is tearing its
    /// children down without parking their counts (see [`TEARING_DOWN`]).
    fn in_teardown(&self) -> bool {
        self.container_header().is_some_and(|container| {
            // SAFETY: this object holds a storage reference on its
            // container, so the container's header is allocated.
            is_tearing_down(unsafe { container.as_ref() }.refs.load(Ordering::Relaxed))
        })
    }

    /// Current number of storage references (a snapshot, for diagnostics).
    pub fn storage_count(&self) -> usize {
        self.storage.load(Ordering::Relaxed) >> STORAGE_SHIFT
    }

    /// Where the object is in its lifecycle (a snapshot).
    pub fn state(&self) -> LifeState {
        if self.storage.load(Ordering::Acquire) & FINALIZED != 0 {
            LifeState::Finalized
        } else if self.refs.load(Ordering::Acquire) as isize <= 0 || self.in_teardown() {
            LifeState::Finalizing
        } else {
            LifeState::Live
        }
    }

    #[inline]
    pub(crate) fn link(&self) -> Link {
        let raw = self.link;
        if raw.addr().get() & LINK_STANDALONE != 0 {
            // SAFETY: the allocation start is at least 8-aligned, so
            // clearing the tag bit leaves it non-zero.
            Link::Standalone(raw.map_addr(|a| unsafe {
                core::num::NonZeroUsize::new_unchecked(a.get() & !LINK_STANDALONE)
            }))
        } else {
            Link::Embedded(raw.cast())
        }
    }

    /// The container this object is embedded in, if any.
    #[inline]
    pub(crate) fn container_header(&self) -> Option<NonNull<ObjectHeader>> {
        match self.link() {
            Link::Embedded(h) => Some(h),
            Link::Standalone(_) => None,
        }
    }

    /// The address of `at` (inside this object's allocation) with the
    /// provenance of the whole allocation.
    #[inline]
    pub(crate) fn allocation_ptr_at<T>(&self, at: NonNull<T>) -> NonNull<T> {
        // Both kinds of link carry the allocation's provenance and the
        // address is replaced anyway: no need to decode the tag.
        self.link.with_addr(at.addr()).cast()
    }

    /// Takes a strong reference on an object the caller can see through a
    /// shared reference. This is the explicit check in `ref`: one compare
    /// covers both an object that is not live (count parked at
    /// [`NOT_LIVE`]) and a count overflow.
    #[inline]
    pub(crate) fn acquire_ref(&self) {
        // Relaxed suffices, as in `Arc::clone`: the caller already holds a
        // reference through which it reached the object, so the object is
        // kept alive independently and no data is published by this count.
        let old = self.refs.fetch_add(1, Ordering::Relaxed);
        // Zero is never seen here: the finalizer parks the count before
        // any code that could still reach the object runs. The failure
        // path re-reads the count rather than taking `old`, so the
        // increment compiles to `lock inc` and a flag test, as
        // `Arc::clone`'s does, instead of `lock xadd`.
        if (old as isize) < 0 {
            self.acquire_ref_failed();
        }
    }

    /// Takes a strong reference on an object reached through a borrow
    /// (`Owned::from`, a tree walk) rather than through a strong reference
    /// to it. For an embedded object that is an escape: its containers are
    /// marked [`SHARED`] first, and a reference taken while its container
    /// tears it down is a resurrection.
    #[inline]
    pub(crate) fn acquire_ref_escaping(&self) {
        if let Some(container) = self.container_header() {
            self.escape(container);
        }
        self.acquire_ref();
    }

    // Not `#[cold]`: `Owned::from` on an embedded child is ordinary use.
    // Out of line, so that `Owned::from` on a standalone object stays an
    // increment and a link test.
    #[inline(never)]
    fn escape(&self, container: NonNull<ObjectHeader>) {
        // SAFETY: this object holds a storage reference on its container.
        if is_tearing_down(unsafe { container.as_ref() }.refs.load(Ordering::Relaxed)) {
            // Being finalized by its container's teardown, which did not
            // park the count: report it as for a parked one.
            self.resurrection_panic();
        }
        mark_shared(container);
    }

    /// Takes a strong reference only while the object is live (like
    /// `Weak::upgrade`): returns `false` once the count has reached zero.
    pub(crate) fn try_acquire_ref(&self) -> bool {
        let mut cur = self.refs.load(Ordering::Relaxed);
        loop {
            // Zero (the last reference just went) or parked: not live.
            if cur as isize <= 0 {
                return false;
            }
            if cur == isize::MAX as usize {
                std::process::abort();
            }
            // Relaxed on success: as in `Weak::upgrade`, the object's memory
            // is kept alive by the caller's storage hold, and a non-zero
            // count means finalize has not started (it starts only after
            // the count reaches zero, which this CAS would have observed).
            match self.refs.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => cur = seen,
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn acquire_ref_failed(&self) -> ! {
        // A parked count stays within a few increments of `NOT_LIVE`; a
        // live count only gets this far by overflowing `isize::MAX` (some
        // 2^63 leaked references): abort, as `Arc` does.
        let now = self.refs.load(Ordering::Relaxed);
        if now.wrapping_sub(NOT_LIVE) > isize::MAX as usize / 2 {
            std::process::abort();
        }
        // Undo so the finalizer's view of the count stays exact.
        self.refs.fetch_sub(1, Ordering::Relaxed);
        self.resurrection_panic();
    }

    #[cold]
    fn resurrection_panic(&self) -> ! {
        let path = crate::tree::path_for_diagnostics(self);
        panic!(
            "qom: reference taken on `{}` ({}){} while it is {}; an object cannot be \
             resurrected once its last reference is gone",
            self.type_info().name(),
            self.type_info().rust_name(),
            path.map(|p| format!(" at {p}")).unwrap_or_default(),
            match self.state() {
                LifeState::Live | LifeState::Finalizing =>
                    "not live (finalizing or under construction)",
                LifeState::Finalized => "finalized",
            }
        );
    }

    /// Marks the object as being in the composition tree's side table
    /// (which makes it, and its containers, [`SHARED`]).
    pub(crate) fn set_tree_flag(&self) {
        // Relaxed: the flags are only read by this object's finalizer, and
        // by the last holder's `Owned::drop`, which synchronise with every
        // holder through the `refs` release/acquire pair before reading.
        self.storage.fetch_or(TREE_FLAG | SHARED, Ordering::Relaxed);
        if let Some(container) = self.container_header() {
            mark_shared(container);
        }
    }

    /// Marks the object (and its containers) [`SHARED`]: something other
    /// than its strong references can now make one, such as an owned
    /// child asking for its owner.
    pub(crate) fn set_shared(&self) {
        mark_shared(NonNull::from(self));
    }

    /// Whether a strong reference can be made other than from a strong
    /// reference (see [`SHARED`]); while not, the holder of the only one
    /// may finalize without a read-modify-write.
    #[inline]
    pub(crate) fn is_shared(&self) -> bool {
        self.storage.load(Ordering::Relaxed) & SHARED != 0
    }

    #[inline]
    pub(crate) fn has_tree_flag(&self) -> bool {
        self.storage.load(Ordering::Relaxed) & TREE_FLAG != 0
    }
}

/// Sets [`SHARED`] on `header` and every container it is embedded in.
fn mark_shared(header: NonNull<ObjectHeader>) {
    let mut at = Some(header);
    while let Some(header) = at {
        // SAFETY: the caller reached `header` through an object it holds,
        // and each object holds a storage reference on its container.
        let h = unsafe { header.as_ref() };
        // Relaxed, as in `set_tree_flag`. Load first: the bit is usually
        // set already, and a load is cheaper than a read-modify-write.
        if h.storage.load(Ordering::Relaxed) & SHARED == 0 {
            h.storage.fetch_or(SHARED, Ordering::Relaxed);
        }
        at = h.container_header();
    }
}

// The header budget from DESIGN.md: no larger than 32 bytes on 64-bit hosts
// (QEMU's is 40 plus a per-object property hash table).
#[cfg(all(not(loom), target_pointer_width = "64"))]
const _: () = assert!(core::mem::size_of::<ObjectHeader>() == 32);

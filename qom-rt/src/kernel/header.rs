//! The object header: the 32 bytes every object starts its life with.
//!
//! ```text
//!  offset  field        meaning
//!  0       link         tagged pointer with the allocation's provenance:
//!                       tag 0b00: embedded; the container's header
//!                       tag 0b01: standalone; the allocation's start
//!                       tag 0b11: owned child; the allocation's start,
//!                                 whose first word is the owner's header
//!  8       type_info    &'static TypeInfo of the most-derived type (of
//!                       the level being finalized, during finalize)
//!  16      refs         strong count (`Owned`s + the container's reference
//!                       for a declared child); finalize runs when it hits 0
//!  24      storage      storage count << 3 | SHARED | TREE_FLAG | FINALIZED
//! ```
//!
//! `link` comes first because it cannot be null: with that niche at offset
//! 0, rustc keeps placing an object's `ParentField` (its header) at the
//! start of the object, as C QOM places `parent_obj`.
//!
//! `refs` is the logical life (like `Arc`'s strong count); `storage` counts
//! who needs the bytes: the object itself until its finalize ends, plus one
//! per declared child (embedded or owned) whose own storage has not been
//! released yet (a child that finished finalizing may still be needed by
//! a grandchild someone holds). The design document (`book/src/design.md`) states the
//! states and who may increment which count when; in short, an object is
//! *live* while `refs > 0`, *finalizing* once its finalizer has parked
//! `refs` at [`NOT_LIVE`], and *finalized* once the `FINALIZED` bit is set,
//! in the same atomic operation that releases the object's own storage
//! reference at the end of finalize.
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

use crate::kernel::sync::{AtomicPtr, AtomicUsize};
use crate::kernel::type_info::TypeInfo;
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

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
/// Set once the object has an entry in the composition tree's or the link
/// targets' side tables (dynamic children, a dynamic parent, links to it),
/// so that finalize only takes those locks for objects that need it.
pub(crate) const TREE_FLAG: usize = 0b0010;
/// Set once a strong reference to the object, or to an object declared in
/// it, can be made other than from a strong reference to the object: it
/// has tree or link entries, an owned child (which can ask for its owner),
/// or an embedded descendant that escaped (an `Owned` made from a borrow,
/// or its own tree or link entries). Set on an object, it is set on every
/// container the object is declared in, and never cleared.
///
/// While it is clear, whoever holds the object's only strong reference is
/// the only one who can reach the object and everything embedded in it:
/// dropping that reference finalizes without a read-modify-write, and its
/// container tears it down without one either.
pub(crate) const SHARED: usize = 0b0100;
pub(crate) const STORAGE_SHIFT: u32 = 3;
pub(crate) const STORAGE_ONE: usize = 1 << STORAGE_SHIFT;

/// What `refs` holds from the moment an object's finalize starts:
/// `isize::MIN`. Live counts are positive, so "not positive as an `isize`"
/// after an increment means a resurrection attempt or an overflow past
/// `isize::MAX` -- the same single compare `Arc::clone` makes for overflow
/// alone. The finalizer parks the count here explicitly (every finalize,
/// including a container's teardown of its children); it is not an
/// encoding of live counts.
pub(crate) const NOT_LIVE: usize = isize::MIN as usize;

const TAG_MASK: usize = 0b11;
const TAG_EMBEDDED: usize = 0b00;
const TAG_STANDALONE: usize = 0b01;
const TAG_OWNED: usize = 0b11;

/// The header at the start of every object's memory.
///
/// See the module documentation for the layout. Users never build one; the
/// derive puts it at the bottom of every `ParentField` chain.
#[repr(C)] // the layout the module documentation shows
pub struct ObjectHeader {
    link: NonNull<u8>,
    /// Always a `&'static TypeInfo`.
    type_info: AtomicPtr<TypeInfo>,
    pub(crate) refs: AtomicUsize,
    pub(crate) storage: AtomicUsize,
}

// `type_info` points at immutable static data and the counts are atomics.
// `link` (and an owned child's owner word) is written before the object is
// reachable and only read after; what it points at is kept alive by the
// storage count this object holds.
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
    /// Start of an owned child's own allocation: a word holding the
    /// owner's header, then the object (see [`owned_child_layout`]).
    OwnedChild(NonNull<u8>),
}

impl Link {
    #[inline]
    fn encode(self) -> NonNull<u8> {
        match self {
            Link::Standalone(p) => p.map_addr(|a| a | TAG_STANDALONE),
            Link::Embedded(h) => h.cast(),
            Link::OwnedChild(p) => p.map_addr(|a| a | TAG_OWNED),
        }
    }
}

/// The allocation of an owned child of type `object`: one word for its
/// owner's header, then the object; and the object's offset in it.
pub(crate) fn owned_child_layout(object: core::alloc::Layout) -> (core::alloc::Layout, usize) {
    let owner = core::alloc::Layout::new::<NonNull<ObjectHeader>>();
    match owner.extend(object) {
        Ok(pair) => pair,
        // Only for an object within a word of `isize::MAX` bytes, which
        // no allocation can hold anyway.
        Err(_) => std::alloc::handle_alloc_error(object),
    }
}

impl ObjectHeader {
    /// A header for an object being built: live with one strong reference
    /// (the caller's, or for a child its container's), one storage
    /// reference for itself plus one per declared child. Nothing can reach
    /// the object until the whole allocation it belongs to is built (see
    /// `lifecycle`), so the count may be live from the start.
    #[inline]
    pub(crate) fn new(
        type_info: &'static TypeInfo,
        declared_children: usize,
        shared: bool,
        link: Link,
    ) -> Self {
        let flags = if shared { SHARED } else { 0 };
        ObjectHeader {
            link: link.encode(),
            type_info: AtomicPtr::new(core::ptr::from_ref(type_info).cast_mut()),
            refs: AtomicUsize::new(1),
            storage: AtomicUsize::new(((1 + declared_children) << STORAGE_SHIFT) | flags),
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
        if refs as isize > 0 {
            refs
        } else {
            0
        }
    }

    /// Current number of storage references (a snapshot, for diagnostics).
    pub fn storage_count(&self) -> usize {
        self.storage.load(Ordering::Relaxed) >> STORAGE_SHIFT
    }

    /// Where the object is in its lifecycle (a snapshot).
    pub fn state(&self) -> LifeState {
        if self.storage.load(Ordering::Acquire) & FINALIZED != 0 {
            LifeState::Finalized
        } else if self.refs.load(Ordering::Acquire) as isize <= 0 {
            LifeState::Finalizing
        } else {
            LifeState::Live
        }
    }

    /// Whether the object is live (a snapshot: it may begin finalizing
    /// right after, unless the caller holds a strong reference).
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.refs.load(Ordering::Relaxed) as isize > 0
    }

    #[inline]
    pub(crate) fn link(&self) -> Link {
        let raw = self.link;
        let untagged = || {
            // SAFETY: allocations and headers are at least 8-aligned, so
            // clearing the tag bits leaves the address non-zero.
            raw.map_addr(|a| unsafe { core::num::NonZeroUsize::new_unchecked(a.get() & !TAG_MASK) })
        };
        match raw.addr().get() & TAG_MASK {
            TAG_EMBEDDED => Link::Embedded(raw.cast()),
            TAG_STANDALONE => Link::Standalone(untagged()),
            _ => Link::OwnedChild(untagged()),
        }
    }

    /// The container this object is embedded in, if any.
    #[inline]
    pub(crate) fn embedding_container(&self) -> Option<NonNull<ObjectHeader>> {
        match self.link() {
            Link::Embedded(h) => Some(h),
            Link::Standalone(_) | Link::OwnedChild(_) => None,
        }
    }

    /// The object that declares this one as a child (`#[child(embedded)]`
    /// or `#[child(owned)]`), if any. Its header stays allocated while this
    /// object lives: a declared child holds a storage reference on it
    /// until its own finalize ends.
    #[inline]
    pub(crate) fn declaring_container(&self) -> Option<NonNull<ObjectHeader>> {
        match self.link() {
            Link::Embedded(h) => Some(h),
            Link::Standalone(_) => None,
            Link::OwnedChild(start) => {
                // SAFETY: an owned child's allocation starts with its
                // owner's header pointer, written before the child was
                // reachable and never written again.
                Some(unsafe { start.cast::<NonNull<ObjectHeader>>().read() })
            }
        }
    }

    /// The address of `at` (inside this object's allocation) with the
    /// provenance of the whole allocation.
    #[inline]
    pub(crate) fn allocation_ptr_at<T>(&self, at: NonNull<T>) -> NonNull<T> {
        // Every kind of link carries the allocation's provenance and the
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
        // Zero is never seen here: a count reaches zero only when the last
        // reference goes, and the finalizer parks it before any code that
        // could reach the object runs. The failure path re-reads the count
        // rather than taking `old`, so the increment compiles to `lock inc`
        // and a flag test, as `Arc::clone`'s does, instead of `lock xadd`.
        if (old as isize) < 0 {
            self.acquire_ref_failed();
        }
    }

    /// Takes a strong reference on an object reached through a borrow
    /// (`Owned::from`) rather than through a strong reference to it. For an
    /// embedded object that is an escape: its containers are marked
    /// [`SHARED`] first, since the new reference can reach them.
    #[inline]
    pub(crate) fn acquire_ref_escaping(&self) {
        if let Some(container) = self.embedding_container() {
            mark_shared(container);
        }
        self.acquire_ref();
    }

    /// Takes a strong reference only while the object is live (like
    /// `Weak::upgrade`): returns `false` once its finalize has begun. Every
    /// path that makes a strong reference other than from one the caller
    /// holds goes through here: a strong count only goes up from a live
    /// count.
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
            // is kept alive by the caller's storage hold (or lock), and a
            // positive count means finalize has not started (it starts only
            // after the count reaches zero, which this CAS would have
            // observed, as the count's modification order is total).
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
        let path = crate::kernel::walk::path_for_diagnostics(self);
        panic!(
            "qom: reference taken on `{}` ({}){} while it is {}; an object cannot be \
             resurrected once its last reference is gone",
            self.type_info().name(),
            self.type_info().rust_name(),
            path.map(|p| format!(" at {p}")).unwrap_or_default(),
            match self.state() {
                LifeState::Live | LifeState::Finalizing => "finalizing",
                LifeState::Finalized => "finalized",
            }
        );
    }

    /// Marks the object as being in a side table (the tree's or the link
    /// targets'), which makes it, and its containers, [`SHARED`].
    pub(crate) fn set_tree_flag(&self) {
        // Relaxed: the flags are only read by this object's finalizer (and
        // its containers'), and by the last holder's `Owned::drop`, which
        // synchronise with every holder through the `refs` release/acquire
        // pair before reading.
        self.storage.fetch_or(TREE_FLAG | SHARED, Ordering::Relaxed);
        if let Some(container) = self.declaring_container() {
            mark_shared(container);
        }
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

/// Sets [`SHARED`] on `header` and every container it is declared in.
pub(crate) fn mark_shared(header: NonNull<ObjectHeader>) {
    let mut at = Some(header);
    while let Some(header) = at {
        // SAFETY: the caller reached `header` through an object it holds,
        // and each declared child holds a storage reference on its
        // container.
        let h = unsafe { header.as_ref() };
        // Relaxed, as in `set_tree_flag`. Load first: the bit is usually
        // set already, and a load is cheaper than a read-modify-write.
        // The walk goes on to the top even then: another thread may be
        // marking the same chain and not be there yet.
        if h.storage.load(Ordering::Relaxed) & SHARED == 0 {
            h.storage.fetch_or(SHARED, Ordering::Relaxed);
        }
        at = h.declaring_container();
    }
}

// The header budget: no larger than 32 bytes on 64-bit hosts (QEMU's is
// 40 plus a per-object property hash table).
#[cfg(all(not(loom), target_pointer_width = "64"))]
const _: () = assert!(core::mem::size_of::<ObjectHeader>() == 32);

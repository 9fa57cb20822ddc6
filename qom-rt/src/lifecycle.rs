//! Creation, finalization and freeing: the only code that decides when an
//! object's hooks run and when its memory goes away.
//!
//! The rules (DESIGN.md, "Semantics"):
//! * `refs` reaching zero finalizes the object, exactly once;
//! * finalize ends by setting `FINALIZED` and releasing the object's own
//!   storage reference and the ones its in-place-torn-down children would
//!   have released, in one atomic operation;
//! * `storage` reaching zero frees the allocation, or, for an embedded
//!   object, releases one storage reference on its container.
//!
//! Orderings follow `std::sync::Arc` (`library/alloc/src/sync.rs`): every
//! decrement is `Release` so that all uses of the object through the
//! dropped reference happen before the decrement; whoever sees the count
//! reach zero issues an `Acquire` load first, so the finalizer (and the
//! freer) sees all of those uses completed.

use crate::header::{
    Link, ObjectHeader, FINALIZED, NOT_LIVE, STORAGE_ONE, STORAGE_SHIFT, TEARING_DOWN,
};
use crate::object::{InitContext, ObjectType};
use crate::type_info::ChildKind;
use core::ptr::NonNull;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// The header of `this`, with `this`'s provenance.
#[inline(always)]
pub(crate) fn header_ptr<T: ObjectType>(this: NonNull<T>) -> NonNull<ObjectHeader> {
    // SAFETY: `HEADER_OFFSET` is inside `T` (see `ObjectType`'s contract).
    unsafe { this.byte_add(T::HEADER_OFFSET).cast() }
}

/// Initialises the object at `this` and makes it live with one strong
/// reference, owned by the caller.
///
/// # Safety
/// `this` points to uninitialised memory valid for `T`, with the provenance
/// of the whole allocation; `link` describes where that memory lives.
#[inline]
pub(crate) unsafe fn init_object<T: ObjectType>(this: NonNull<T>, link: Link) {
    let ctx = InitContext {
        type_info: T::TYPE_INFO,
        embedded_count: T::EMBEDDED_COUNT,
        link,
    };
    // SAFETY: forwarded from the caller.
    unsafe { T::__init_fields(this, ctx) };
    // SAFETY: every field is initialised now.
    let object = unsafe { this.as_ref() };
    // The object is not shared yet: a plain store of the caller's reference.
    // Until now the count was parked at `NOT_LIVE`, so a child's
    // `container()` could not reach this half-built object.
    object.header().refs.store(1, Relaxed);
    object.__run_init_hooks();
}

/// Called by `Owned::drop` after it took the strong count to zero.
///
/// # Safety
/// The caller released the last strong reference of the object whose
/// header is `header` (a pointer with the allocation's provenance).
#[inline(never)]
pub(crate) unsafe fn drop_last_ref(header: NonNull<ObjectHeader>) {
    // SAFETY: the object is live until we finalize it.
    let h = unsafe { header.as_ref() };
    // Acquire pairs with the Release decrements of every other reference:
    // their uses of the object happen before finalize.
    h.refs.load(Acquire);
    // Park the count: any later `ref` (from a finalize hook) sees a
    // non-positive count and panics; `container()` upgrades already fail
    // on zero. Only this thread can reach the object now: a plain store.
    h.refs.store(NOT_LIVE, Relaxed);
    // SAFETY: the count is zero and we observed it first: we are the
    // unique finalizer.
    let release = unsafe { (h.type_info().finalize)(header) };
    // SAFETY: finalize returned our storage references to drop.
    unsafe { finish_finalize(header, release) };
}

/// Type-erased entry into [`finalize`], stored in `TypeInfo`.
///
/// # Safety
/// As [`finalize`], with `header` the header of a `T`.
pub(crate) unsafe fn finalize_erased<T: ObjectType>(header: NonNull<ObjectHeader>) -> usize {
    // SAFETY: the header is at `HEADER_OFFSET` inside a `T`.
    let this = unsafe { header.byte_sub(T::HEADER_OFFSET).cast::<T>() };
    // SAFETY: forwarded from the caller.
    unsafe { finalize(this) }
}

/// Runs the finalize sequence of an object whose strong count is zero.
/// Returns the storage references on it to release: its own plus one for
/// each embedded child that finished finalizing during this call.
///
/// # Safety
/// The strong count is zero and the caller is the unique finalizer;
/// `this` carries the allocation's provenance.
#[inline]
pub(crate) unsafe fn finalize<T: ObjectType>(this: NonNull<T>) -> usize {
    // SAFETY: forwarded from the caller.
    let released = unsafe { finalize_levels(this) };
    // SAFETY: the header is live until our storage reference goes.
    let header = unsafe { header_ptr(this).as_ref() };
    // Dynamic children (`add_child`), tree and link entries: released
    // last, after every declared child of every level.
    if header.has_tree_flag() {
        crate::tree::release_links(header);
    }
    released
}

/// [`finalize`] without releasing tree entries, which an embedded child
/// of an unshared container can only have gained from its own hooks;
/// [`Teardown::end`] releases those.
///
/// # Safety
/// As [`finalize`].
#[inline]
unsafe fn finalize_levels<T: ObjectType>(this: NonNull<T>) -> usize {
    // SAFETY: forwarded from the caller.
    let released = 1 + unsafe { T::__finalize_levels(this) };
    if T::DEPTH > 1 {
        // The levels named their parent types while they ran (see
        // `finalize_parent_level`); whoever frees the memory needs the
        // most-derived type's layout. `T` is it: `finalize_erased` is
        // stored for the most-derived type and embedded fields are
        // concrete types.
        // SAFETY: we are the unique finalizer.
        unsafe { header_ptr(this).as_ref().set_finalizing_type(T::TYPE_INFO) };
    }
    released
}

/// Runs the parent type's finalize levels, called by a type's finalize
/// glue once its own level is done. From then on the object's dynamic type
/// is the parent type, as in a C++ base destructor: the subtype's fields
/// have been dropped and its embedded children finalized, so a parent hook
/// must not reach them by a downcast or a virtual call, and with the type
/// changed neither finds them. `Object`'s level runs no user code, so
/// entering it changes nothing.
///
/// # Safety
/// As for `finalize`: `parent` is the parent-type part of the object being
/// finalized, whose level just finished, and the caller is the unique
/// finalizer.
#[inline(always)]
pub unsafe fn finalize_parent_level<P: ObjectType>(parent: NonNull<P>) -> usize {
    if P::DEPTH > 0 {
        // SAFETY: forwarded from the caller.
        unsafe {
            header_ptr(parent)
                .as_ref()
                .set_finalizing_type(P::TYPE_INFO)
        };
    }
    // SAFETY: forwarded from the caller.
    unsafe { P::__finalize_levels(parent) }
}

/// Ends an object's finalize: sets `FINALIZED` and releases the `n`
/// storage references `finalize` returned, in one atomic operation.
///
/// # Safety
/// As [`release_storage`]; called once, by the finalizer.
unsafe fn finish_finalize(header: NonNull<ObjectHeader>, n: usize) {
    // SAFETY: we hold `n` storage references, so the bytes are live.
    let storage = unsafe { &(*header.as_ptr()).storage };
    // If the count is exactly ours, no embedded child is still alive and
    // none can appear (storage references are only created at
    // initialisation): skip the read-modify-write and free. Acquire pairs
    // with the Release decrements of children that finished earlier.
    if storage.load(Acquire) >> STORAGE_SHIFT == n {
        // SAFETY: no other storage reference exists.
        unsafe { free_storage(header) };
        return;
    }
    // Release: this finalize happens before whoever frees the memory.
    // Subtracting `n * STORAGE_ONE - FINALIZED` drops our references and
    // sets the (previously clear) `FINALIZED` bit in the same operation.
    let old = storage.fetch_sub(n * STORAGE_ONE - FINALIZED, Release);
    if old >> STORAGE_SHIFT == n {
        storage.load(Acquire);
        // SAFETY: we released the last storage reference.
        unsafe { free_storage(header) };
    }
}

/// Releases `n` storage references on the object at `header` (a
/// container, on behalf of its finished children); frees the allocation
/// (or releases the container's own container) when none remain.
///
/// # Safety
/// The caller owns `n` storage references on the object; `header` carries
/// the allocation's provenance.
unsafe fn release_storage(header: NonNull<ObjectHeader>, n: usize) {
    // SAFETY: we hold `n` storage references, so the bytes are live.
    let storage = unsafe { &(*header.as_ptr()).storage };
    // Release: the child's finalize happens before whoever frees the
    // memory; that thread's Acquire load pairs with it.
    let old = storage.fetch_sub(n * STORAGE_ONE, Release);
    if old >> STORAGE_SHIFT == n {
        storage.load(Acquire);
        // SAFETY: we released the last storage reference.
        unsafe { free_storage(header) };
    }
}

/// Frees the memory of an object no one needs any more: deallocates a
/// standalone object, or releases an embedded one's hold on its container.
///
/// # Safety
/// No storage reference on the object remains; `header` carries the
/// allocation's provenance.
unsafe fn free_storage(header: NonNull<ObjectHeader>) {
    // SAFETY: the header is still allocated and `link` was written before
    // the object was shared.
    match unsafe { header.as_ref() }.link() {
        Link::Embedded(container) => {
            // This object's bytes belong to its container, on which it held
            // one storage reference.
            // SAFETY: we own that reference.
            unsafe { release_storage(container, 1) }
        }
        Link::Standalone(allocation) => {
            // SAFETY: as above; `type_info` is static.
            let layout = unsafe { header.as_ref() }.type_info().layout;
            // SAFETY: `allocation` is the pointer `Owned::new` got from the
            // global allocator with this layout (the most-derived type's),
            // and every field was dropped during finalize.
            unsafe { std::alloc::dealloc(allocation.as_ptr(), layout) };
        }
    }
}

/// Initialises one embedded child in place, linked to its container.
///
/// # Safety
/// `this` is uninitialised memory for `T` inside the container whose header
/// is `container`, both with the allocation's provenance.
#[inline]
pub(crate) unsafe fn init_embedded<T: ObjectType>(
    this: NonNull<T>,
    container: NonNull<ObjectHeader>,
) {
    // SAFETY: forwarded from the caller. The child's strong count ends at
    // one: the container's reference, dropped in the container's finalize.
    unsafe { init_object(this, Link::Embedded(container)) }
}

/// One level's release of its embedded children, during its container's
/// finalize: whether the container is unshared (see `SHARED`), in which
/// case every embedded child is reachable only through it and is torn down
/// without checking or parking its count.
#[derive(Clone, Copy)]
pub struct Teardown {
    unshared: bool,
}

impl Teardown {
    /// Starts releasing the embedded children of the level of type `T` at
    /// `level` of the object being finalized (derive glue).
    ///
    /// # Safety
    /// Called by the object's unique finalizer, then [`Teardown::end`]
    /// with the same level once the level's children are released.
    #[inline(always)]
    pub unsafe fn begin<T: ObjectType>(level: NonNull<T>) -> Self {
        // SAFETY: the object is finalizing: its bytes are live.
        let container = unsafe { header_ptr(level).as_ref() };
        // This thread synchronised with every former holder before
        // finalize began; since then only this thread can set `SHARED`
        // (from a hook). While it is clear, no other thread can reach the
        // container or anything in it, so a plain store of the parked
        // count loses no update.
        let unshared = !container.is_shared();
        if unshared {
            container.refs.store(TEARING_DOWN, Relaxed);
        }
        Teardown { unshared }
    }

    /// Ends a level's release of its embedded children.
    ///
    /// # Safety
    /// As [`Teardown::begin`].
    #[inline(always)]
    pub unsafe fn end<T: ObjectType>(self, level: NonNull<T>) {
        if !self.unshared {
            return;
        }
        // SAFETY: as in `begin`.
        let container = unsafe { header_ptr(level).as_ref() };
        // Parked again, as in `drop_last_ref`; only this thread writes
        // the count of a finalizing object.
        container.refs.store(NOT_LIVE, Relaxed);
        if container.is_shared() {
            // A child's hook let a grandchild escape, or gave the child
            // tree entries.
            // SAFETY: forwarded from the caller.
            unsafe { release_late_tree_entries(level) };
        }
    }
}

/// Releases the tree entries the children of the level of type `T` gave
/// themselves from their own finalize hooks (which made the container
/// shared): those children were finalized without the check (see
/// `finalize_levels`).
///
/// # Safety
/// As [`Teardown::end`].
#[cold]
unsafe fn release_late_tree_entries<T: ObjectType>(level: NonNull<T>) {
    let embedded = T::TYPE_INFO.children().iter();
    for child in embedded.filter(|c| c.kind() != ChildKind::Owned) {
        for i in 0..child.count() {
            // SAFETY: the level is an initialised `T`; its children's
            // bytes live until the container's own storage reference
            // goes, which it still holds.
            let header = unsafe { child.element_header(level.cast(), i).as_ref() };
            if header.has_tree_flag() {
                crate::tree::release_links(header);
            }
        }
    }
}

/// Drops the container's strong reference on an embedded child, during the
/// container's finalize. Returns 1 if the child finished finalizing and the
/// caller should release the storage reference it held on the container,
/// 0 if that release happens elsewhere (now or later).
///
/// # Safety
/// Called once per embedded child, by its container's finalizer, within
/// the container's [`Teardown`] of the child's level.
#[inline]
pub(crate) unsafe fn release_embedded<T: ObjectType>(
    this: NonNull<T>,
    teardown: Teardown,
) -> usize {
    let header = header_ptr(this);
    // SAFETY: the child is live: the container's reference is still held.
    let h = unsafe { header.as_ref() };
    if teardown.unshared {
        // Nothing escaped from the container: the container's reference is
        // the child's only one, and no one else can take another. A
        // reference taken from the child's own hooks is caught as a
        // resurrection by the container's `TEARING_DOWN` mark, so the count
        // needs no parking.
        // SAFETY: we are the unique finalizer.
        let released = unsafe { finalize_levels(this) };
        // Its bytes are the container's. Unless a hook of the child let
        // one of its own embedded children escape, which then still holds
        // the child's storage, its storage count is what finalize
        // returned: hand the release of its hold on the container to the
        // caller. Acquire: as in `finish_finalize`.
        if T::EMBEDDED_COUNT == 0 || h.storage.load(Acquire) >> STORAGE_SHIFT == released {
            return 1;
        }
        // SAFETY: we hold `released` storage references on the child.
        unsafe { finish_finalize(header, released) };
        return 0;
    }
    // SAFETY: forwarded from the caller.
    unsafe { release_embedded_of_shared(this) }
}

/// [`release_embedded`] for a child of a shared container. Out of line:
/// the unshared path above is a few instructions (none for a child whose
/// hooks are empty), and this one would otherwise cost the caller the
/// registers it needs.
///
/// # Safety
/// As [`release_embedded`].
#[inline(never)]
unsafe fn release_embedded_of_shared<T: ObjectType>(this: NonNull<T>) -> usize {
    let header = header_ptr(this);
    // SAFETY: the child is live: the container's reference is still held.
    let h = unsafe { header.as_ref() };
    // Fast path, no read-modify-write: a child without embedded children
    // of its own can only be reached through its container or an `Owned`
    // of it. The container is finalizing (unreachable), so if ours is the
    // only reference nobody can take another: we tear it down alone.
    // Acquire pairs with the Release decrement of the last other `Owned`.
    if T::EMBEDDED_COUNT == 0 && h.refs.load(Acquire) == 1 {
        // Park the count so a `ref` from the child's own finalize hook
        // panics as a resurrection, as for any finalizing object.
        h.refs.store(NOT_LIVE, Relaxed);
        // The child has no embedded children, so its storage count is
        // exactly its own reference and its bytes are the container's:
        // instead of marking it finalized and releasing that reference, we
        // hand the release of its hold on the container to the caller.
        // SAFETY: we are the unique finalizer (checked just above).
        unsafe { finalize(this) };
        return 1;
    }
    // Release/Acquire: as in `Owned::drop`.
    if h.refs.fetch_sub(1, Release) == 1 {
        // SAFETY: we took the count to zero.
        unsafe { drop_last_ref(header) };
    }
    0
}

//! Creation, finalization and freeing: the only code that decides when an
//! object's hooks run and when its memory goes away. The rules, and why
//! each shortcut below is sound, are in the design document
//! (`book/src/design.md`: "States", "The rule behind every increment",
//! "`SHARED` and the fast paths", "Finalize order"); in short:
//!
//! * An allocation is *built* (every field of every level, every embedded
//!   and owned child) before any `init` hook runs, and nothing can reach
//!   it while it is built: a panic while building drops what was built
//!   and frees the memory.
//! * `refs` reaching zero finalizes the object, exactly once; the
//!   finalizer parks the count at `NOT_LIVE` first (every finalize,
//!   including a container's teardown of its children), so a strong count
//!   only ever goes up from a live count.
//! * Finalize ends by setting `FINALIZED` and releasing the object's own
//!   storage reference and the ones its in-place-torn-down children would
//!   have released, in one atomic operation; `storage` reaching zero frees
//!   the allocation, or releases one storage reference on the container.
//! * A panic in user code during finalize (a hook, a field's `Drop`) is
//!   caught, the teardown goes on, and the first panic is resumed once
//!   the memory is released.
//!
//! Orderings follow `std::sync::Arc` (`library/alloc/src/sync.rs`): every
//! decrement is `Release` so that all uses of the object through the
//! dropped reference happen before the decrement; whoever sees the count
//! reach zero issues an `Acquire` load first, so the finalizer (and the
//! freer) sees all of those uses completed.

use crate::kernel::header::{
    owned_child_layout, Link, ObjectHeader, FINALIZED, NOT_LIVE, STORAGE_ONE, STORAGE_SHIFT,
};
use crate::kernel::object::{InitContext, ObjectType};
use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::any::Any;
use std::cell::Cell;

/// What finalize functions add to their result for each panic caught from
/// user code; the low half of the result counts storage references.
pub(crate) const PANIC_UNIT: usize = 1 << (usize::BITS / 2);
const COUNT_MASK: usize = PANIC_UNIT - 1;

/// The header of `this`, with `this`'s provenance.
#[inline(always)]
pub(crate) fn header_ptr<T: ObjectType>(this: NonNull<T>) -> NonNull<ObjectHeader> {
    // SAFETY: `HEADER_OFFSET` is inside `T` (see `ObjectType`'s contract).
    unsafe { this.byte_add(T::HEADER_OFFSET).cast() }
}

/// Builds the object at `this`: header and every field, no hook.
///
/// # Safety
/// `this` points to uninitialised memory valid for `T`, with the provenance
/// of the whole allocation, which nothing else can reach; `link` describes
/// where that memory lives.
#[inline(always)]
unsafe fn build<T: ObjectType>(this: NonNull<T>, link: Link) {
    let ctx = InitContext {
        type_info: T::TYPE_INFO,
        declared_children: T::DECLARED_CHILDREN,
        shared: T::SHARED_AT_BIRTH,
        link,
    };
    // SAFETY: forwarded from the caller.
    unsafe { T::__init_fields(this, ctx) };
}

/// Frees an allocation whose build panicked (the fields built so far were
/// unbuilt by the build's own guards).
struct FreeOnUnwind {
    start: NonNull<u8>,
    layout: Layout,
}

impl Drop for FreeOnUnwind {
    fn drop(&mut self) {
        // SAFETY: `start` came from the global allocator with `layout`
        // and holds nothing that needs dropping any more.
        unsafe { std::alloc::dealloc(self.start.as_ptr(), self.layout) }
    }
}

#[inline]
fn allocate(layout: Layout) -> NonNull<u8> {
    // SAFETY: every object has a header, so the layout is not zero-sized.
    let raw = unsafe { std::alloc::alloc(layout) };
    NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Allocates and builds a standalone `T` with one strong reference, the
/// caller's. No hook has run: the caller runs them.
pub(crate) fn new_object<T: ObjectType>() -> NonNull<T> {
    let layout = Layout::new::<T>();
    let start = allocate(layout);
    let free_on_unwind = FreeOnUnwind { start, layout };
    let this = start.cast::<T>();
    // SAFETY: fresh memory for a `T`, with the allocation's provenance;
    // nothing else knows of it.
    unsafe { build(this, Link::Standalone(start)) };
    core::mem::forget(free_on_unwind);
    this
}

/// Allocates and builds a `T` as an owned child of the object whose header
/// is `owner` (which the caller is building): its allocation starts with a
/// word holding `owner`, on which the child holds a storage reference (the
/// owner counted it at its creation). No hook has run.
///
/// # Safety
/// `owner` is the header, with its allocation's provenance, of an object
/// being built that declares this child.
pub(crate) unsafe fn new_owned_child<T: ObjectType>(owner: NonNull<ObjectHeader>) -> NonNull<T> {
    let (layout, offset) = owned_child_layout(Layout::new::<T>());
    let start = allocate(layout);
    let free_on_unwind = FreeOnUnwind { start, layout };
    // SAFETY: the allocation starts with a word for the owner, and the
    // object follows at `offset`, both inside the allocation.
    let this = unsafe {
        start.cast::<NonNull<ObjectHeader>>().write(owner);
        start.byte_add(offset).cast::<T>()
    };
    // SAFETY: fresh memory for a `T`; nothing else knows of it.
    unsafe { build(this, Link::OwnedChild(start)) };
    core::mem::forget(free_on_unwind);
    this
}

/// Undoes [`new_owned_child`] for a child whose hooks never ran.
///
/// # Safety
/// `this` was made by `new_owned_child`, nothing else can reach it, and it
/// is not used afterwards.
pub(crate) unsafe fn unbuild_owned_child<T: ObjectType>(this: NonNull<T>) {
    // SAFETY: forwarded from the caller.
    unsafe { T::__unbuild(this) };
    let (layout, _) = owned_child_layout(Layout::new::<T>());
    // SAFETY: the header is still readable (fields were dropped, the header
    // has nothing to drop); its link is the allocation's start.
    if let Link::OwnedChild(start) = unsafe { header_ptr(this).as_ref() }.link() {
        // SAFETY: allocated by `new_owned_child` with this layout.
        unsafe { std::alloc::dealloc(start.as_ptr(), layout) }
    }
}

/// Builds one embedded child in place, linked to its container.
///
/// # Safety
/// `this` is uninitialised memory for `T` inside the container whose header
/// is `container`, both with the allocation's provenance, which nothing
/// else can reach.
#[inline(always)]
pub(crate) unsafe fn init_embedded<T: ObjectType>(
    this: NonNull<T>,
    container: NonNull<ObjectHeader>,
) {
    // SAFETY: forwarded from the caller. The child's strong count starts
    // at one: the container's reference, dropped in the container's
    // finalize.
    unsafe { build(this, Link::Embedded(container)) }
}

/// Called by `Owned::drop` after it took the strong count to zero (or
/// found it at one, with nothing able to make another). Resumes the first
/// panic a hook raised during the teardown, once the memory is released.
///
/// # Safety
/// The caller released the last strong reference of the object whose
/// header is `header` (a pointer with the allocation's provenance).
#[inline(never)]
pub(crate) unsafe fn drop_last_ref(header: NonNull<ObjectHeader>) {
    // SAFETY: forwarded from the caller.
    let released = unsafe { park_and_finalize(header) };
    if released & !COUNT_MASK != 0 {
        // SAFETY: as below.
        return unsafe { finish_then_resume_panic(header, released) };
    }
    // The common case ends with the release of the memory, with nothing
    // to do after it (the compiler makes it a tail call).
    // SAFETY: finalize returned our storage references to drop.
    unsafe { finish_finalize(header, released) }
}

/// [`drop_last_ref`]'s end when a hook panicked: release the memory, then
/// resume the panic.
///
/// # Safety
/// As [`finish_finalize`], with `released` what finalize returned.
#[cold]
#[inline(never)]
unsafe fn finish_then_resume_panic(header: NonNull<ObjectHeader>, released: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { finish_finalize(header, released & COUNT_MASK) };
    resume_pending_panic();
}

/// Drops a strong reference during another object's finalize: like
/// `Owned::drop`, but a panic from the hooks this runs is left pending
/// (and counted in the result, in [`PANIC_UNIT`]s) for the outermost
/// finalize to resume, so the teardown in progress is never cut short.
///
/// # Safety
/// The caller owns one strong reference on the object at `header` (a
/// pointer with the allocation's provenance) and gives it up.
pub(crate) unsafe fn release_nested(header: NonNull<ObjectHeader>) -> usize {
    // SAFETY: we still hold our reference; only the counter is touched.
    let refs = unsafe { &(*header.as_ptr()).refs };
    // Release/Acquire: as in `Owned::drop`.
    if refs.fetch_sub(1, Release) != 1 {
        return 0;
    }
    // SAFETY: we took the count to zero.
    unsafe { finalize_and_free(header) }
}

/// Finalizes an object whose count the caller took to zero, and releases
/// its storage. Returns the panics caught meanwhile, in [`PANIC_UNIT`]s.
///
/// # Safety
/// The caller released the last strong reference (see [`drop_last_ref`]).
#[inline(always)]
unsafe fn finalize_and_free(header: NonNull<ObjectHeader>) -> usize {
    // SAFETY: forwarded from the caller.
    let released = unsafe { park_and_finalize(header) };
    // SAFETY: finalize returned our storage references to drop.
    unsafe { finish_finalize(header, released & COUNT_MASK) };
    released & !COUNT_MASK
}

/// Parks the count of an object whose count the caller took to zero and
/// runs its finalize. Returns what finalize returned: the storage
/// references to release, plus the panics caught in [`PANIC_UNIT`]s.
///
/// # Safety
/// As [`finalize_and_free`].
#[inline(always)]
unsafe fn park_and_finalize(header: NonNull<ObjectHeader>) -> usize {
    // SAFETY: the object is live until we finalize it.
    let h = unsafe { header.as_ref() };
    // Acquire pairs with the Release decrements of every other reference:
    // their uses of the object happen before finalize.
    h.refs.load(Acquire);
    // Park the count: any later `ref` (from a finalize hook) sees a
    // non-positive count and panics; every try-acquire fails. Only this
    // thread can reach the object now: a plain store.
    h.refs.store(NOT_LIVE, Relaxed);
    // SAFETY: the count is zero and we observed it first: we are the
    // unique finalizer.
    unsafe { (h.type_info().finalize)(header) }
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

/// Runs the finalize sequence of an object whose strong count is parked.
/// Returns the storage references on it to release (its own plus one for
/// each declared child that finished finalizing during this call) plus a
/// [`PANIC_UNIT`] per panic caught.
///
/// # Safety
/// The count is parked and the caller is the unique finalizer; `this`
/// carries the allocation's provenance.
#[inline(always)]
unsafe fn finalize<T: ObjectType>(this: NonNull<T>) -> usize {
    // SAFETY: forwarded from the caller.
    let mut released = unsafe { finalize_levels(this) };
    // SAFETY: the header is live until our storage reference goes.
    let header = unsafe { header_ptr(this).as_ref() };
    // Dynamic children (`add_child`), tree and link entries: released
    // last, after every declared child of every level.
    if header.has_tree_flag() {
        released += crate::kernel::tree_links::release_links(header);
    }
    released
}

/// [`finalize`] without releasing side-table entries: for a child torn
/// down by an unshared container, which cannot have any but those its own
/// hooks gave it -- and those made the container shared, so the
/// container's [`Teardown::end`] releases them.
///
/// # Safety
/// As [`finalize`].
#[inline(always)]
unsafe fn finalize_levels<T: ObjectType>(this: NonNull<T>) -> usize {
    // SAFETY: forwarded from the caller.
    let released = 1 + unsafe { T::__finalize_levels(this) };
    if T::DEPTH > 1 {
        // The levels named their parent types while they ran (see
        // `finalize_parent_level`); whoever frees the memory needs the
        // most-derived type's layout. `T` is it: `finalize_erased` is
        // stored for the most-derived type and declared fields are
        // concrete types.
        // SAFETY: we are the unique finalizer.
        unsafe { header_ptr(this).as_ref().set_finalizing_type(T::TYPE_INFO) };
    }
    released
}

/// Runs the parent type's finalize levels, called by a type's finalize
/// glue once its own level is done. From then on the object's dynamic type
/// is the parent type, as in a C++ base destructor: the subtype's fields
/// have been dropped and its children finalized, so a parent hook must not
/// reach them by a downcast or a virtual call, and with the type changed
/// neither finds them. `Object`'s level runs no user code, so entering it
/// changes nothing.
///
/// # Safety
/// `parent` is the parent-type part of an object whose level just
/// finished, and the caller is its unique finalizer (derive glue).
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
#[inline(always)]
unsafe fn finish_finalize(header: NonNull<ObjectHeader>, n: usize) {
    // SAFETY: we hold `n` storage references, so the bytes are live.
    let storage = unsafe { &(*header.as_ptr()).storage };
    // If the count is exactly ours, no declared child is still alive and
    // none can appear (storage references are only created at build):
    // skip the read-modify-write and free. Acquire pairs with the Release
    // decrements of children that finished earlier.
    if storage.load(Acquire) >> STORAGE_SHIFT == n {
        // SAFETY: no other storage reference exists.
        unsafe { free_storage(header) };
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe { finish_finalize_shared(header, n) }
}

/// [`finish_finalize`] when a child still holds the object's storage.
/// Out of line: the common case above frees at once.
///
/// # Safety
/// As [`finish_finalize`].
#[inline(never)]
unsafe fn finish_finalize_shared(header: NonNull<ObjectHeader>, n: usize) {
    // SAFETY: we hold `n` storage references, so the bytes are live.
    let storage = unsafe { &(*header.as_ptr()).storage };
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
/// standalone object or an owned child (which then releases its hold on
/// its owner), or releases an embedded one's hold on its container.
///
/// # Safety
/// No storage reference on the object remains; `header` carries the
/// allocation's provenance.
#[inline(always)]
unsafe fn free_storage(header: NonNull<ObjectHeader>) {
    // SAFETY: the header is allocated, `link` written before the object
    // was reachable; `type_info` is the most-derived type again (see
    // `finalize_levels`).
    let (link, layout) = unsafe {
        let h = header.as_ref();
        (h.link(), h.type_info().layout)
    };
    match link {
        // SAFETY: `start` is what `new_object` got from the global
        // allocator with this layout, and every field was dropped during
        // finalize. The common case, inline: a tail call.
        Link::Standalone(start) => unsafe { std::alloc::dealloc(start.as_ptr(), layout) },
        // SAFETY: forwarded from the caller.
        Link::Embedded(_) | Link::OwnedChild(_) => unsafe { free_child_storage(header) },
    }
}

/// [`free_storage`] for a declared child, out of line.
///
/// # Safety
/// As [`free_storage`].
#[inline(never)]
unsafe fn free_child_storage(header: NonNull<ObjectHeader>) {
    // SAFETY: forwarded from the caller.
    let container = unsafe { dealloc_own_allocation(header) };
    if let Some(container) = container {
        // SAFETY: this object held one storage reference on it.
        unsafe { release_storage(container, 1) }
    }
}

/// Deallocates the object's own allocation, if it has one (standalone
/// objects and owned children), and returns the container on which it
/// held a storage reference, if any (embedded and owned children): the
/// caller releases that reference.
///
/// # Safety
/// As [`free_storage`].
#[inline(always)]
unsafe fn dealloc_own_allocation(header: NonNull<ObjectHeader>) -> Option<NonNull<ObjectHeader>> {
    // SAFETY: the header is allocated, `link` (and an owned child's owner
    // word) written before the object was reachable; `type_info` is the
    // most-derived type again (see `finalize`).
    let (link, layout) = unsafe {
        let h = header.as_ref();
        (h.link(), h.type_info().layout)
    };
    match link {
        // The bytes belong to the container.
        Link::Embedded(container) => Some(container),
        Link::Standalone(start) => {
            // SAFETY: `start` is what `new_object` got from the global
            // allocator with this layout (the most-derived type's), and
            // every field was dropped during finalize.
            unsafe { std::alloc::dealloc(start.as_ptr(), layout) };
            None
        }
        Link::OwnedChild(start) => {
            // SAFETY: as above, from `new_owned_child`; the owner word is
            // read before the memory goes.
            unsafe {
                let owner = start.cast::<NonNull<ObjectHeader>>().read();
                std::alloc::dealloc(start.as_ptr(), owned_child_layout(layout).0);
                Some(owner)
            }
        }
    }
}

/// One level's release of its declared children, during its container's
/// finalize: whether the container is unshared (see `SHARED`), in which
/// case every child is reachable only through it and is torn down without
/// a read-modify-write on its count.
#[derive(Clone, Copy)]
pub struct Teardown {
    unshared: bool,
}

impl Teardown {
    /// Starts releasing the declared children of the level of type `T` at
    /// `level` of the object being finalized (derive glue).
    ///
    /// # Safety
    /// Called by the object's unique finalizer, with the object's count
    /// parked.
    #[inline(always)]
    pub unsafe fn begin<T: ObjectType>(level: NonNull<T>) -> Self {
        // SAFETY: the object is finalizing: its bytes are live.
        let container = unsafe { header_ptr(level).as_ref() };
        // This thread synchronised with every former holder before
        // finalize began; since then only this thread can set `SHARED`
        // (from a hook, before this point). While it is clear, no other
        // thread can reach the container or anything in it, and every
        // child's only reference is the container's: see `alone` for why
        // no path other than a reference can reach an unshared object.
        Teardown {
            unshared: !container.is_shared(),
        }
    }

    /// Whether the container is unshared: its children are torn down
    /// with plain stores.
    #[inline(always)]
    pub(crate) fn is_unshared(self) -> bool {
        self.unshared
    }

    /// Ends a level's release of its declared children: if they were torn
    /// down unshared and a hook of one gave it side-table entries (which
    /// made the container shared), releases those. Returns the panics
    /// caught meanwhile, in `PANIC_UNIT`s.
    ///
    /// # Safety
    /// As [`Teardown::begin`], once the level's children are released.
    #[inline(always)]
    pub unsafe fn end<T: ObjectType>(self, level: NonNull<T>) -> usize {
        // SAFETY: as in `begin`.
        if !self.unshared || !unsafe { header_ptr(level).as_ref() }.is_shared() {
            return 0;
        }
        // SAFETY: forwarded from the caller.
        unsafe { release_late_tree_entries(level) }
    }
}

/// Releases the side-table entries the embedded children of the level of
/// type `T` gave themselves from their own finalize hooks, after their
/// unshared teardown (see [`finalize_levels`]).
///
/// # Safety
/// As [`Teardown::end`].
#[cold]
unsafe fn release_late_tree_entries<T: ObjectType>(level: NonNull<T>) -> usize {
    let mut units = 0;
    let embedded = T::TYPE_INFO.children().iter();
    for child in embedded.filter(|c| c.kind() != crate::kernel::type_info::ChildKind::Owned) {
        for i in 0..child.count() {
            // SAFETY: the level is a built `T`; its embedded children's
            // headers are in the container's memory, which it still holds.
            let header = unsafe { child.element_header(level.cast(), i).as_ref() };
            if header.has_tree_flag() {
                units += crate::kernel::tree_links::release_links(header);
            }
        }
    }
    units
}

/// Whether the object at `h` can be torn down without a read-modify-write:
/// its reference (the container's) is the only one and nothing can make
/// another. Nothing can, while `SHARED` is clear (design document, "SHARED
/// and the fast paths"): not a clone or `Owned::from` (they need a
/// reference to the object or to a live container, and the container is
/// finalizing), and not any path that makes one other than from a
/// reference -- an owned child's back-link (its owner is born `SHARED`),
/// the tree's and the link targets' side tables (an entry sets `SHARED`),
/// a `..` or `container()` from an escaped embedded descendant (the escape
/// set `SHARED` on every container above it, before the escaping
/// reference existed). Class dispatch and casts make no reference.
/// Acquire pairs with the Release decrement of the last other reference,
/// and so also makes visible a `SHARED` set before that reference went.
#[inline(always)]
fn alone(h: &ObjectHeader) -> bool {
    h.refs.load(Acquire) == 1 && !h.is_shared()
}

/// Tears down a declared child whose only reference is its container's
/// (the caller checked): parks its count, finalizes it, and returns
/// whether its storage count is now exactly what finalize returned (no
/// child of its own still holds it), with the panic units.
///
/// # Safety
/// The child is declared in an object the caller is finalizing, and the
/// container's reference is its only one.
#[inline(always)]
unsafe fn tear_down_alone<T: ObjectType>(
    this: NonNull<T>,
    container_unshared: bool,
) -> (bool, usize, usize) {
    let header = header_ptr(this);
    // SAFETY: the child is live: the container's reference is still held.
    let h = unsafe { header.as_ref() };
    // Parked, as in `finalize_and_free`, so that a reference taken from the
    // child's own hooks is a resurrection and every walk to it fails. A
    // plain store: no other thread can reach the child.
    h.refs.store(NOT_LIVE, Relaxed);
    // SAFETY: we are the unique finalizer. Side-table entries: see
    // `finalize_levels`.
    let released = unsafe {
        if container_unshared {
            finalize_levels(this)
        } else {
            finalize(this)
        }
    };
    let (count, units) = (released & COUNT_MASK, released & !COUNT_MASK);
    // Unless a hook of the child let one of its own children escape,
    // which then still holds the child's storage, its storage count is
    // what finalize returned. Acquire: as in `finish_finalize`.
    let sole = T::DECLARED_CHILDREN == 0 || h.storage.load(Acquire) >> STORAGE_SHIFT == count;
    if !sole {
        // SAFETY: we hold `count` storage references on the child.
        unsafe { finish_finalize(header, count) };
    }
    (sole, count, units)
}

/// Drops the container's strong reference on an embedded child, during the
/// container's finalize. Returns 1 if the child finished finalizing and the
/// caller should release the storage reference it held on the container,
/// 0 if that release happens elsewhere (now or later); plus the panics
/// caught, in [`PANIC_UNIT`]s.
///
/// # Safety
/// Called once per embedded child, by its container's finalizer, within
/// the container's [`Teardown`] of the child's level.
#[inline(always)]
pub(crate) unsafe fn release_embedded<T: ObjectType>(
    this: NonNull<T>,
    teardown: Teardown,
) -> usize {
    let header = header_ptr(this);
    // SAFETY: the child is live: the container's reference is still held.
    if teardown.unshared || alone(unsafe { header.as_ref() }) {
        // SAFETY: only the container's reference exists (an unshared
        // container's children have no other; `alone` checked otherwise).
        let (sole, _, units) = unsafe { tear_down_alone(this, teardown.unshared) };
        // Its bytes are the container's: with no other storage reference,
        // the release of its hold on the container goes to the caller.
        return usize::from(sole) + units;
    }
    // SAFETY: we give up the container's reference.
    unsafe { release_nested(header) }
}

/// Drops an owner's strong reference on an owned child, during the
/// owner's finalize. Returns as [`release_embedded`].
///
/// # Safety
/// Called once per owned child, by its owner's finalizer, with the
/// pointer the owner's `Owned` field holds.
#[inline]
pub(crate) unsafe fn release_owned<T: ObjectType>(this: NonNull<T>) -> usize {
    let header = header_ptr(this);
    // SAFETY: the child is live: the owner's reference is still held.
    if alone(unsafe { header.as_ref() }) {
        // SAFETY: only the owner's reference exists, and nothing can make
        // another (`alone`).
        let (sole, _, units) = unsafe { tear_down_alone(this, false) };
        if sole {
            // SAFETY: no storage reference on the child remains; its hold
            // on the owner goes to the caller.
            unsafe { dealloc_own_allocation(header) };
            return 1 + units;
        }
        return units;
    }
    // SAFETY: we give up the owner's reference.
    unsafe { release_nested(header) }
}

thread_local! {
    /// The first panic caught during this thread's outermost finalize,
    /// until that finalize has released the memory and resumes it.
    static PENDING_PANIC: Cell<Option<Box<dyn Any + Send>>> = const { Cell::new(None) };
}

/// Runs user code during a finalize (a hook, a field's `Drop`), catching
/// a panic so that the teardown can go on: returns 0, or `PANIC_UNIT` if
/// it panicked (the first such panic is kept to be resumed later). For
/// code that cannot unwind, this compiles to nothing.
#[inline(always)]
pub fn guard(user_code: impl FnOnce()) -> usize {
    match std::panic::catch_unwind(core::panic::AssertUnwindSafe(user_code)) {
        Ok(()) => 0,
        Err(payload) => {
            keep_panic(payload);
            PANIC_UNIT
        }
    }
}

#[cold]
fn keep_panic(payload: Box<dyn Any + Send>) {
    let extra = PENDING_PANIC
        .try_with(|slot| match slot.take() {
            None => {
                slot.set(Some(payload));
                None
            }
            first => {
                slot.set(first);
                Some(payload)
            }
        })
        .unwrap_or_else(|_| None);
    if let Some(extra) = extra {
        drop_payload(extra);
    }
}

/// Drops a panic payload that will not be resumed (a second panic, or one
/// raised while the thread is already unwinding), even if its own `Drop`
/// panics: then that panic's payload is dropped the same way.
fn drop_payload(payload: Box<dyn Any + Send>) {
    let mut next = Some(payload);
    // A payload whose drop panics with a payload whose drop panics, and so
    // on: after a few rounds, leak the last one rather than unwind out of a
    // teardown.
    for _ in 0..8 {
        let Some(payload) = next.take() else {
            return;
        };
        next = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| drop(payload))).err();
    }
    core::mem::forget(next);
}

/// Resumes the panic kept by [`guard`], once the teardown that caught it
/// has released everything. While the thread is already unwinding (an
/// `Owned` dropped during another panic), resuming would abort: the
/// payload is dropped instead, as a destructor's panic would be lost.
#[cold]
#[inline(never)]
fn resume_pending_panic() {
    let Some(payload) = PENDING_PANIC.try_with(Cell::take).ok().flatten() else {
        return;
    };
    if std::thread::panicking() {
        drop_payload(payload);
    } else {
        std::panic::resume_unwind(payload);
    }
}

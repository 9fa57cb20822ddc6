//! Which field types `#[child(embedded)]` accepts: an object type or an
//! array of one.

use crate::kernel::header::ObjectHeader;
use crate::kernel::lifecycle::{init_embedded, release_embedded, Teardown};
use crate::kernel::object::ObjectType;
use core::ptr::NonNull;

/// A field type that holds embedded child objects in place.
///
/// # Safety
/// The constants must describe the objects in `Self` exactly, and the
/// functions must build, unbuild, run the hooks of and release each of
/// them exactly as documented.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be embedded in a QOM object",
    label = "not an object type or an array of object types",
    note = "`#[child(embedded)]` takes a QOM object type `T` or an array `[T; N]`, stored in the container's own allocation",
    note = "to hold a child in its own allocation instead, write `#[child(owned)] field: Owned<T>`"
)]
pub unsafe trait Embeddable {
    /// Number of objects in the field.
    const COUNT: usize;
    /// Distance in bytes between consecutive objects.
    const STRIDE: usize;
    /// Whether the field is an array (children named `field[i]`).
    const IS_ARRAY: bool;
    /// Type of the objects.
    const ELEMENT_TYPE: &'static crate::TypeInfo;
    /// Whether the objects start shared (they have owned children).
    const SHARED_AT_BIRTH: bool;

    /// Builds every object in the field, in index order, running no hook;
    /// if one panics, the ones built before it are unbuilt.
    ///
    /// # Safety
    /// `this` is uninitialised memory inside the container whose header is
    /// `container`, both with the allocation's provenance, which nothing
    /// else can reach.
    #[doc(hidden)]
    unsafe fn init_embedded(this: NonNull<Self>, container: NonNull<ObjectHeader>);

    /// Unbuilds every object in the field, in reverse index order.
    ///
    /// # Safety
    /// The objects were built and their hooks never ran; nothing else can
    /// reach them, and they are not used afterwards.
    #[doc(hidden)]
    unsafe fn unbuild_embedded(this: NonNull<Self>);

    /// Runs the `init` hooks of every object in the field, in index order.
    #[doc(hidden)]
    fn run_init_hooks(&self);

    /// Drops the container's reference on every object, in reverse index
    /// order; returns the storage references to release on the container,
    /// plus the panics caught (see `lifecycle`).
    ///
    /// # Safety
    /// Called once, by the container's finalizer, within its `teardown` of
    /// the field's level.
    #[doc(hidden)]
    unsafe fn release_embedded(this: NonNull<Self>, teardown: Teardown) -> usize;
}

// SAFETY: `T` and its build, hooks and release are forwarded to the
// functions above with the same pointer; one object, `COUNT` is 1.
unsafe impl<T: ObjectType> Embeddable for T {
    const COUNT: usize = 1;
    const STRIDE: usize = core::mem::size_of::<T>();
    const IS_ARRAY: bool = false;
    const ELEMENT_TYPE: &'static crate::TypeInfo = T::TYPE_INFO;
    const SHARED_AT_BIRTH: bool = T::SHARED_AT_BIRTH;

    #[inline(always)]
    unsafe fn init_embedded(this: NonNull<Self>, container: NonNull<ObjectHeader>) {
        // SAFETY: forwarded from the caller.
        unsafe { init_embedded(this, container) }
    }

    #[inline(always)]
    unsafe fn unbuild_embedded(this: NonNull<Self>) {
        // SAFETY: forwarded from the caller.
        unsafe { T::__unbuild(this) }
    }

    #[inline(always)]
    fn run_init_hooks(&self) {
        self.__run_init_hooks();
    }

    #[inline(always)]
    unsafe fn release_embedded(this: NonNull<Self>, teardown: Teardown) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { release_embedded(this, teardown) }
    }
}

// SAFETY: the elements are `N` contiguous `T`s; each is built, unbuilt,
// hooked and released exactly once, releases in reverse order.
unsafe impl<T: ObjectType, const N: usize> Embeddable for [T; N] {
    const COUNT: usize = N;
    const STRIDE: usize = core::mem::size_of::<T>();
    const IS_ARRAY: bool = true;
    const ELEMENT_TYPE: &'static crate::TypeInfo = T::TYPE_INFO;
    const SHARED_AT_BIRTH: bool = T::SHARED_AT_BIRTH;

    #[inline(always)]
    unsafe fn init_embedded(this: NonNull<Self>, container: NonNull<ObjectHeader>) {
        let mut built = BuiltElements {
            first: this.cast::<T>(),
            count: 0,
        };
        for i in 0..N {
            // SAFETY: `i < N`, so the element is inside the array.
            unsafe { init_embedded(built.first.add(i), container) };
            built.count = i + 1;
        }
        core::mem::forget(built);
    }

    #[inline(always)]
    unsafe fn unbuild_embedded(this: NonNull<Self>) {
        drop(BuiltElements {
            first: this.cast::<T>(),
            count: N,
        });
    }

    #[inline(always)]
    fn run_init_hooks(&self) {
        for element in self {
            element.__run_init_hooks();
        }
    }

    #[inline(always)]
    unsafe fn release_embedded(this: NonNull<Self>, teardown: Teardown) -> usize {
        if teardown.is_unshared() {
            // SAFETY: forwarded from the caller.
            unsafe { release_elements(this, teardown) }
        } else {
            // Out of line, so that the calls it makes do not cost the
            // common, unshared teardown (plain stores) its registers.
            // SAFETY: forwarded from the caller.
            unsafe { release_elements_shared(this, teardown) }
        }
    }
}

/// Releases the elements of an embedded array, last first.
///
/// # Safety
/// As [`Embeddable::release_embedded`].
#[inline(always)]
unsafe fn release_elements<T: ObjectType, const N: usize>(
    this: NonNull<[T; N]>,
    teardown: Teardown,
) -> usize {
    let first = this.cast::<T>();
    let mut done = 0;
    for i in (0..N).rev() {
        // SAFETY: `i < N`; each element released once.
        done += unsafe { release_embedded(first.add(i), teardown) };
    }
    done
}

/// [`release_elements`] in a shared container.
///
/// # Safety
/// As [`Embeddable::release_embedded`].
#[inline(never)]
unsafe fn release_elements_shared<T: ObjectType, const N: usize>(
    this: NonNull<[T; N]>,
    teardown: Teardown,
) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { release_elements(this, teardown) }
}

/// The first `count` elements of an array being built; dropping it
/// unbuilds them (the undo of a build that panicked part-way).
struct BuiltElements<T: ObjectType> {
    first: NonNull<T>,
    count: usize,
}

impl<T: ObjectType> Drop for BuiltElements<T> {
    fn drop(&mut self) {
        for i in (0..self.count).rev() {
            // SAFETY: elements below `count` were built, their hooks never
            // ran, and nothing else can reach them.
            unsafe { T::__unbuild(self.first.add(i)) };
        }
    }
}

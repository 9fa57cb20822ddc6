//! Which field types `#[child(embedded)]` accepts: an object type or an
//! array of one.

use crate::header::ObjectHeader;
use crate::lifecycle::{init_embedded, release_embedded, Teardown};
use crate::object::ObjectType;
use core::ptr::NonNull;

/// A field type that holds embedded child objects in place.
///
/// # Safety
/// The constants must describe the objects in `Self` exactly, and the
/// functions must initialise and release each of them exactly once.
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

    /// Initialises every object in the field, in index order.
    ///
    /// # Safety
    /// `this` is uninitialised memory inside the container whose header is
    /// `container`, both with the allocation's provenance.
    #[doc(hidden)]
    unsafe fn init_embedded(this: NonNull<Self>, container: NonNull<ObjectHeader>);

    /// Drops the container's reference on every object, in reverse index
    /// order; returns the storage references to release on the container.
    ///
    /// # Safety
    /// Called once, by the container's finalizer, within its `teardown` of
    /// the field's level.
    #[doc(hidden)]
    unsafe fn release_embedded(this: NonNull<Self>, teardown: Teardown) -> usize;
}

// SAFETY: `T` and its initialisation and release are forwarded to the
// functions above with the same pointer; one object, `COUNT` is 1.
unsafe impl<T: ObjectType> Embeddable for T {
    const COUNT: usize = 1;
    const STRIDE: usize = core::mem::size_of::<T>();
    const IS_ARRAY: bool = false;
    const ELEMENT_TYPE: &'static crate::TypeInfo = T::TYPE_INFO;

    unsafe fn init_embedded(this: NonNull<Self>, container: NonNull<ObjectHeader>) {
        // SAFETY: forwarded from the caller.
        unsafe { init_embedded(this, container) }
    }

    unsafe fn release_embedded(this: NonNull<Self>, teardown: Teardown) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { release_embedded(this, teardown) }
    }
}

// SAFETY: the elements are `N` contiguous `T`s; each is initialised and
// released exactly once, releases in reverse order.
unsafe impl<T: ObjectType, const N: usize> Embeddable for [T; N] {
    const COUNT: usize = N;
    const STRIDE: usize = core::mem::size_of::<T>();
    const IS_ARRAY: bool = true;
    const ELEMENT_TYPE: &'static crate::TypeInfo = T::TYPE_INFO;

    unsafe fn init_embedded(this: NonNull<Self>, container: NonNull<ObjectHeader>) {
        let first = this.cast::<T>();
        for i in 0..N {
            // SAFETY: `i < N`, so the element is inside the array.
            unsafe { init_embedded(first.add(i), container) };
        }
    }

    unsafe fn release_embedded(this: NonNull<Self>, teardown: Teardown) -> usize {
        let first = this.cast::<T>();
        let mut done = 0;
        for i in (0..N).rev() {
            // SAFETY: `i < N`; each element released once.
            done += unsafe { release_embedded(first.add(i), teardown) };
        }
        done
    }
}

//! [`Owned<T>`]: a strong reference to an object, standalone or embedded.

use crate::kernel::header::ObjectHeader;
use crate::kernel::lifecycle::{drop_last_ref, header_ptr};
use crate::kernel::object::{Instantiable, IsA, Object, ObjectType};
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::Ordering::{Acquire, Release};

/// A strong reference to an object: QOM's `object_ref`/`object_unref`
/// pair as a value.
///
/// Works the same for a standalone object and for a child embedded in its
/// container: cloning is one atomic increment, and a reference to an
/// embedded child keeps the container's memory (not its state) alive.
///
/// ```
/// use qom_rt::prelude::*;
///
/// #[derive(QomObject)]
/// #[qom(name = "leaf")]
/// struct Leaf { parent: ParentField<Object> }
/// impl ObjectImpl for Leaf {}
///
/// #[derive(QomObject)]
/// #[qom(name = "box")]
/// struct Container {
///     parent: ParentField<Object>,
///     #[child(embedded)]
///     leaf: Leaf,
/// }
/// impl ObjectImpl for Container {}
///
/// let container = Owned::<Container>::new();
/// let leaf: Owned<Leaf> = Owned::from(&container.leaf);
/// drop(container); // finalizes the container; `leaf` keeps its memory
/// assert_eq!(leaf.type_name(), "leaf");
/// ```
///
/// There is no `DerefMut`: objects are shared, so their state uses
/// interior mutability (atomics, `Mutex`, [`Prop`](crate::Prop)).
#[repr(transparent)]
pub struct Owned<T: ObjectType> {
    /// Points at the object with the provenance of its whole allocation;
    /// bit 0 is the [`FIRST`] tag.
    ptr: NonNull<T>,
    _owns: PhantomData<T>,
}

/// Tags the pointer of the reference `Owned::new` returns (and what it is
/// converted into): the object's first reference, which is often still
/// its only one when dropped. Its drop checks whether it is, with nothing
/// able to make another (see `SHARED`), and then finalizes without a
/// read-modify-write. Untagged references skip that check: the drop of a
/// clone is exactly `Arc`'s, with no load ahead of the decrement. Objects
/// are at least 8-aligned (they start with a header of words), so bit 0 of
/// their address is free.
const FIRST: usize = 1;

/// The object an `Owned` stored at `field` points to, tag removed (for
/// walks of owned children through the static child tables).
///
/// # Safety
/// `field` points to an initialised `Owned<_>`.
pub(crate) unsafe fn read_owned_field(field: NonNull<u8>) -> NonNull<u8> {
    // SAFETY: `Owned` is one `NonNull` (`repr(transparent)`).
    untag(unsafe { field.cast::<NonNull<u8>>().read() })
}

#[inline(always)]
fn untag<T>(ptr: NonNull<T>) -> NonNull<T> {
    // SAFETY: clearing bit 0 of an address that is at least 8-aligned
    // leaves it non-zero.
    ptr.map_addr(|a| unsafe { core::num::NonZeroUsize::new_unchecked(a.get() & !FIRST) })
}

// SAFETY: `Owned<T>` hands out `&T` on any thread and may finalize `T` on
// any thread, exactly like `Arc<T>`: it needs `T: Send + Sync` for both.
unsafe impl<T: ObjectType + Send + Sync> Send for Owned<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: ObjectType + Send + Sync> Sync for Owned<T> {}

impl<T: ObjectType> Owned<T> {
    /// Creates an object with all its embedded children in one heap
    /// allocation; owned children get their own. Builds everything first,
    /// then runs the `init` hooks (children before their container,
    /// parent types before subtypes).
    ///
    /// # Panics
    /// If building a field (its `Default`) or an `init` hook panics, the
    /// panic goes on once everything is released: what was built is
    /// dropped and freed; if a hook panicked, the object was complete, so
    /// it is finalized as if dropped.
    // No `Default`: it would let an `Owned<T>` be a plain field of an
    // object, building a child the tree never hears of. Owned children
    // are declared with `#[child(owned)]`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self
    where
        T: Instantiable,
    {
        const { assert!(core::mem::align_of::<T>() > FIRST) };
        let this = crate::kernel::lifecycle::new_object::<T>();
        let owned = Owned {
            ptr: this.map_addr(|a| a | FIRST),
            _owns: PhantomData,
        };
        // Unwinding out of a hook drops `owned`: a normal finalize.
        owned.__run_init_hooks();
        owned
    }

    /// Gives up this reference as a pointer (tag removed) without
    /// releasing it: the caller now owns the count.
    #[inline(always)]
    pub(crate) fn into_raw(self) -> NonNull<T> {
        let ptr = self.object_ptr();
        core::mem::forget(self);
        ptr
    }

    /// The object, tag removed.
    #[inline(always)]
    fn object_ptr(&self) -> NonNull<T> {
        untag(self.ptr)
    }

    /// `ptr`, tagged as this reference is.
    #[inline(always)]
    fn with_my_tag<U>(&self, ptr: NonNull<U>) -> NonNull<U> {
        ptr.map_addr(|a| a | (self.ptr.addr().get() & FIRST))
    }

    /// A pointer to the object header with the allocation's provenance.
    #[inline]
    pub(crate) fn header_ptr(&self) -> NonNull<ObjectHeader> {
        header_ptr(self.object_ptr())
    }

    /// Adopts a strong reference already counted in the header.
    ///
    /// # Safety
    /// `ptr` points to a live `T` with the allocation's provenance, and the
    /// caller transfers one strong reference on it.
    pub(crate) unsafe fn from_counted(ptr: NonNull<T>) -> Self {
        Owned {
            ptr,
            _owns: PhantomData,
        }
    }

    /// Converts into a reference to an ancestor type (free).
    pub fn upcast_owned<U: ObjectType>(self) -> Owned<U>
    where
        T: IsA<U>,
    {
        // SAFETY: `T: IsA<U>`, so a `U` lives at the same header.
        let ancestor = unsafe { self.header_ptr().byte_sub(U::HEADER_OFFSET).cast() };
        self.transfer(ancestor)
    }

    /// Converts into a reference to the root type.
    pub fn into_object(self) -> Owned<Object> {
        // Every object has its header at offset 0 of `Object`.
        let object = self.header_ptr().cast();
        self.transfer(object)
    }

    /// Converts into a reference to a subtype if the object is one,
    /// otherwise gives the reference back.
    pub fn downcast_owned<U: ObjectType>(self) -> Result<Owned<U>, Self> {
        let header = self.header_ptr();
        // SAFETY: we hold a strong reference.
        if !unsafe { header.as_ref() }.type_info().is_a(U::TYPE_INFO) {
            return Err(self);
        }
        // SAFETY: the dynamic type is a `U`, whose header is ours.
        let subtype = unsafe { header.byte_sub(U::HEADER_OFFSET).cast() };
        Ok(self.transfer(subtype))
    }

    /// Moves this reference, tag included, to `ptr`: the same object seen
    /// as another type.
    fn transfer<U: ObjectType>(self, ptr: NonNull<U>) -> Owned<U> {
        let ptr = self.with_my_tag(ptr);
        core::mem::forget(self);
        Owned {
            ptr,
            _owns: PhantomData,
        }
    }

    /// Whether two references point to the same object.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.object_ptr() == b.object_ptr()
    }
}

impl<T: ObjectType> core::ops::Deref for Owned<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: we hold a strong reference, so the object is live and
        // initialised; it is never mutated except through interior
        // mutability.
        unsafe { self.object_ptr().as_ref() }
    }
}

impl<T: ObjectType> Clone for Owned<T> {
    /// One atomic increment, like `Arc::clone`.
    #[inline]
    fn clone(&self) -> Self {
        self.header().acquire_ref();
        Owned {
            ptr: self.object_ptr(),
            _owns: PhantomData,
        }
    }
}

impl<T: ObjectType> Drop for Owned<T> {
    #[inline]
    fn drop(&mut self) {
        let header = self.header_ptr();
        // SAFETY: we still hold our reference; only the counter is touched
        // (through a reference to the atomic alone, as `Arc` does), since
        // another thread may finalize and free the object right after it.
        let refs = unsafe { &(*header.as_ptr()).refs };
        // The first reference may still be the only one, with nothing
        // able to make another (`SHARED` clear: no back-link, side-table
        // entry or escaped descendant can reach the object; see
        // `lifecycle::alone` for the list): then no other thread can touch
        // the count, and we finalize without a read-modify-write.
        // Acquire pairs with the Release decrements of the references
        // dropped before ours (as the acquire load in `drop_last_ref` does
        // on the `fetch_sub` path), and so also makes visible any `SHARED`
        // set before those references went.
        if self.ptr.addr().get() & FIRST != 0
            && refs.load(Acquire) == 1
            // SAFETY: the count is ours alone: the object stays allocated.
            && !unsafe { header.as_ref() }.is_shared()
        {
            // SAFETY: we hold the last reference and drop it.
            return unsafe { drop_last_ref(header) };
        }
        // Release: our uses of the object happen before its finalize.
        if refs.fetch_sub(1, Release) != 1 {
            return;
        }
        // SAFETY: we took the strong count to zero.
        unsafe { drop_last_ref(header) }
    }
}

impl<T: ObjectType> From<&T> for Owned<T> {
    /// Takes a new strong reference on an object you can see: standalone,
    /// embedded in a container, or reached through a cast. For an embedded
    /// child this keeps the container's memory alive until the child is
    /// finalized; it does not keep the container itself live.
    ///
    /// # Panics
    /// If the object is finalizing (a resurrection attempt, e.g. from a
    /// `finalize` hook).
    fn from(object: &T) -> Self {
        let header = object.header();
        header.acquire_ref_escaping();
        // Rebuild the pointer from the header's link: `object` only has
        // provenance over its own bytes, while this reference may be the
        // one that eventually frees the whole allocation.
        let ptr = header.allocation_ptr_at(NonNull::from(object));
        Owned {
            ptr,
            _owns: PhantomData,
        }
    }
}

impl<T: ObjectType> core::fmt::Debug for Owned<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = self.header();
        write!(
            f,
            "Owned<{}>({:p})",
            h.type_info().name(),
            self.object_ptr()
        )
    }
}

impl<T: ObjectType> PartialEq for Owned<T> {
    fn eq(&self, other: &Self) -> bool {
        Owned::ptr_eq(self, other)
    }
}

impl<T: ObjectType> Eq for Owned<T> {}

//! Casts between object types: upcasts are free and checked at compile
//! time, downcasts are checked at run time in O(1) of hierarchy depth.

use crate::kernel::header::ObjectHeader;
use crate::kernel::object::{IsA, Object, ObjectType};
use core::ptr::NonNull;

/// Casts available on every object (in the prelude).
///
/// ```
/// use qom_rt::prelude::*;
///
/// #[derive(QomObject)]
/// #[qom(name = "animal", abstract)]
/// struct Animal { parent: ParentField<Object> }
/// impl ObjectImpl for Animal {}
///
/// #[derive(QomObject)]
/// #[qom(name = "dog")]
/// struct Dog { parent: ParentField<Animal> }
/// impl ObjectImpl for Dog {}
///
/// let dog = Owned::<Dog>::new();
/// let animal: &Animal = dog.upcast::<Animal>();
/// assert!(animal.downcast::<Dog>().is_some());
/// assert!(animal.is_a::<Object>());
/// ```
pub trait ObjectCast: ObjectType {
    /// Views the object as an ancestor type; free (a constant offset).
    #[inline]
    fn upcast<U: ObjectType>(&self) -> &U
    where
        Self: IsA<U>,
    {
        let this = NonNull::from(self).cast::<u8>();
        // SAFETY: `Self: IsA<U>` means `Self` contains a `U` through its
        // `ParentField` chain, sharing the header: the `U` starts at
        // `Self::HEADER_OFFSET - U::HEADER_OFFSET`, inside `self`'s bytes.
        unsafe {
            this.byte_add(Self::HEADER_OFFSET - U::HEADER_OFFSET)
                .cast::<U>()
                .as_ref()
        }
    }

    /// Views the object as its root type.
    #[inline]
    fn as_object(&self) -> &Object {
        // SAFETY: `Object` is exactly the header, which every object has.
        unsafe { NonNull::from(self.header()).cast::<Object>().as_ref() }
    }

    /// Views the object as `U` if its dynamic type is `U` or a subtype.
    /// O(1): one bounds check and one compare, whatever the depth.
    #[inline]
    fn downcast<U: ObjectType>(&self) -> Option<&U> {
        let header = self.header();
        let info = header.type_info();
        // The exact type first: one compare, and the common case of a
        // class method called on the type its class was built for.
        if !(core::ptr::eq(info, U::TYPE_INFO) || info.is_a_type::<U>()) {
            return None;
        }
        // SAFETY: just checked.
        Some(unsafe { view_as::<U>(header) })
    }

    /// Whether the object's dynamic type is `U` or a subtype of it.
    #[inline]
    fn is_a<U: ObjectType>(&self) -> bool {
        self.header().type_info().is_a_type::<U>()
    }

    /// The QOM name of the object's dynamic type (`"xhci-pci"`).
    fn type_name(&self) -> &'static str {
        self.header().type_info().name()
    }
}

impl<T: ObjectType> ObjectCast for T {}

/// The object whose header is `header`, as a `U`.
///
/// # Safety
/// The object's dynamic type is `U` or a subtype of it.
#[inline]
pub(crate) unsafe fn view_as<U: ObjectType>(header: &ObjectHeader) -> &U {
    let at = NonNull::from(header).cast::<u8>();
    // `header` only has provenance over its own bytes, so the pointer is
    // rebuilt from the header's link, which covers the allocation.
    // SAFETY: the dynamic type is `U` or a subtype, so a `U` starts
    // `U::HEADER_OFFSET` before the shared header.
    unsafe {
        let u = at.byte_sub(U::HEADER_OFFSET).cast::<U>();
        header.allocation_ptr_at(u).as_ref()
    }
}

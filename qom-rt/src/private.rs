//! Support for the code `#[derive(QomObject)]` generates. Not a public API:
//! everything here may change without notice.
//!
//! The check traits below exist so that a misuse is reported as a missing
//! trait with a message saying what to write, spanned on the offending
//! field (`#[diagnostic::do_not_recommend]` keeps rustc from pointing at
//! the blanket impl's inner bound instead).

pub use crate::embed::Embeddable;
pub use crate::object::InitContext;
pub use crate::registry::Registration;
pub use crate::type_info::{ancestors, TypeDef};
pub use core::ptr::NonNull;
pub use inventory;

use crate::header::ObjectHeader;
use crate::object::{Instantiable, Object, ObjectType};
use crate::owned::Owned;
use crate::property::{Prop, PropertyType};

/// The header of the object at `this`, with `this`'s provenance.
#[inline(always)]
pub fn header_of<T: ObjectType>(this: NonNull<T>) -> NonNull<ObjectHeader> {
    crate::lifecycle::header_ptr(this)
}

/// Instantiates `T` as an `Owned<Object>` (stored in `TypeInfo`).
pub fn instantiate<T: Instantiable>() -> Owned<Object> {
    Owned::<T>::new().into_object()
}

/// # Safety
/// See [`Embeddable::init_embedded`].
#[inline(always)]
pub unsafe fn init_embedded_field<F: Embeddable>(
    field: NonNull<F>,
    container: NonNull<ObjectHeader>,
) {
    // SAFETY: forwarded from the caller.
    unsafe { F::init_embedded(field, container) }
}

/// # Safety
/// See [`Embeddable::release_embedded`].
#[inline(always)]
pub unsafe fn release_embedded_field<F: Embeddable>(field: NonNull<F>) -> usize {
    // SAFETY: forwarded from the caller.
    unsafe { F::release_embedded(field) }
}

/// Creates the owned child of field `name` and links it under its owner.
///
/// # Safety
/// `field` is uninitialised memory for the field inside the object whose
/// header is `owner`.
pub unsafe fn init_owned_field<F: OwnedChild>(
    field: NonNull<F>,
    owner: NonNull<ObjectHeader>,
    name: &'static str,
) {
    let child = Owned::<F::Object>::new();
    crate::tree::link_owned(child.header(), owner, name);
    // SAFETY: `OwnedChild` is only implemented by `Owned<T>` itself.
    unsafe { field.cast::<Owned<F::Object>>().write(child) };
}

/// Unlinks and drops an owned child during its owner's finalize.
///
/// # Safety
/// Called once, by the owner's finalizer, on an initialised field.
pub unsafe fn release_owned_field<F: OwnedChild>(field: NonNull<F>) {
    // SAFETY: as above; the field is never used again.
    let child = unsafe { field.cast::<Owned<F::Object>>().read() };
    crate::tree::unlink_owned(child.header());
    drop(child);
}

/// # Safety
/// `field` is uninitialised memory for the field.
#[inline(always)]
pub unsafe fn init_plain_field<F: PlainField>(field: NonNull<F>) {
    // SAFETY: forwarded from the caller.
    unsafe { field.write(F::default()) }
}

/// # Safety
/// `field` is uninitialised memory for the field.
#[inline(always)]
pub unsafe fn init_property_field<F: PropertyField>(field: NonNull<F>, value: F::Value) {
    // SAFETY: `PropertyField` is only implemented by `Prop<T>`.
    unsafe { field.cast::<Prop<F::Value>>().write(Prop::new(value)) }
}

/// # Safety
/// Called once, by the finalizer, on an initialised field.
#[inline(always)]
pub unsafe fn drop_field<F>(field: NonNull<F>) {
    // SAFETY: forwarded from the caller.
    unsafe { core::ptr::drop_in_place(field.as_ptr()) }
}

/// A value usable as a property default: the value itself, or a string
/// literal for a `String` property.
pub trait PropertyDefault<T> {
    /// The default value.
    fn into_value(self) -> T;
}
impl<T: PropertyType> PropertyDefault<T> for T {
    fn into_value(self) -> T {
        self
    }
}
impl PropertyDefault<String> for &str {
    fn into_value(self) -> String {
        self.to_string()
    }
}

/// Field types accepted by `#[child(owned)]`.
#[diagnostic::on_unimplemented(
    message = "`#[child(owned)]` needs an `Owned<T>` field, found `{Self}`",
    label = "not an `Owned<T>`",
    note = "write `#[child(owned)] field: Owned<T>` to hold the child in its own allocation with a strong reference",
    note = "to store the child inside the container's allocation instead, write `#[child(embedded)] field: T`"
)]
pub trait OwnedChild {
    /// The child's type.
    type Object: Instantiable;
}
impl<T: Instantiable> OwnedChild for Owned<T> {
    type Object = T;
}

/// Field types accepted by `#[property]`.
#[diagnostic::on_unimplemented(
    message = "`#[property]` needs a `Prop<T>` field, found `{Self}`",
    label = "not a `Prop<T>`",
    note = "write `#[property] field: Prop<T>` with `T` a property type (`bool`, an integer, `String`, ...)"
)]
pub trait PropertyField {
    /// The value type.
    type Value: PropertyType;
}
impl<T: PropertyType> PropertyField for Prop<T> {
    type Value = T;
}

/// Field types allowed as plain (non-child) fields of an object.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a plain field of a QOM object",
    label = "plain fields are built with `Default::default()`",
    note = "if `{Self}` is a QOM object type, mark the field `#[child(embedded)]` to store it in the container, or hold it as `#[child(owned)] field: Owned<{Self}>`",
    note = "otherwise implement `Default` for `{Self}` so the object can be built in place, and set its value in `ObjectImpl::init`"
)]
pub trait PlainField: Default {}
#[diagnostic::do_not_recommend]
impl<T: Default> PlainField for T {}

/// Field types that may live in an object shared between threads.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not thread safe, so it cannot be a field of a QOM object",
    label = "objects are shared between threads (`Owned<T>` is `Send` and `Sync`)",
    note = "use an atomic (`AtomicU32`, ...), a `Mutex` or `RwLock`, or `qom_rt::Prop<T>` instead of `Cell`, `RefCell` or `Rc`"
)]
pub trait ThreadSafeField {}
#[diagnostic::do_not_recommend]
impl<T: ?Sized + Send + Sync> ThreadSafeField for T {}

/// Fails to compile when `#[qom(parent = ..)]` and `ParentField<..>` name
/// different types.
#[diagnostic::on_unimplemented(
    message = "`#[qom(parent = {Self})]` disagrees with the `ParentField<{P}>` field",
    label = "the parent type comes from `ParentField<{P}>`",
    note = "make both name the same type, or drop `parent = ...` from `#[qom]`: it is optional"
)]
pub trait SameParent<P> {}
impl<T> SameParent<T> for T {}

/// A conflicting-impl guard: the derive implements it for every object
/// type, so `#[derive(Clone)]` (or `Copy`) on an object type fails to
/// compile: an object copied out of its allocation would duplicate its
/// header and reference counts.
pub trait ObjectTypesMustNotBeClone {}
impl<T: Clone> ObjectTypesMustNotBeClone for T {}

/// Compile-time assertion helpers; the derive calls them in a function
/// that is never run, spanned on the field they check.
pub const fn assert_plain_field<F: PlainField>() {}
/// See [`assert_plain_field`].
pub const fn assert_thread_safe<F: ThreadSafeField + ?Sized>() {}
/// See [`assert_plain_field`].
pub const fn assert_embeddable<F: Embeddable>() {}
/// See [`assert_plain_field`].
pub const fn assert_owned_child<F: OwnedChild>() {}
/// See [`assert_plain_field`].
pub const fn assert_property_field<F: PropertyField>() {}
/// See [`assert_plain_field`].
pub const fn assert_same_parent<A: SameParent<P>, P>() {}
/// See [`assert_plain_field`].
pub const fn assert_object_type<T: ObjectType>() {}

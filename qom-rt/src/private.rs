//! Support for the code `#[derive(QomObject)]` generates. Not a public API:
//! everything here may change without notice.
//!
//! The check traits below exist so that a misuse is reported as a missing
//! trait with a message saying what to write, spanned on the offending
//! field (`#[diagnostic::do_not_recommend]` keeps rustc from pointing at
//! the blanket impl's inner bound instead). Each field role has one trait
//! ([`EmbeddedChild`], [`OwnedChild`], [`PlainField`]) through which every
//! use the derive makes of the field goes, so that a misuse is one error.
//! The ui-tests crate holds a compile-fail case for each message.

pub use crate::kernel::lifecycle::{finalize_parent_level, guard, Teardown};
pub use crate::kernel::object::InitContext;
pub use crate::kernel::type_info::{ancestors, TypeDef};
pub use crate::registry::Registration;
pub use core::ptr::NonNull;
pub use inventory;

/// Support for the code that `#[migrate]` and `#[derive(VmState)]`
/// generate.
pub mod migration {
    pub use crate::migration::describe::StateRegistration;
    pub use crate::migration::support::{
        struct_value, LevelOps, LevelReader, LevelWriter, MigratedLevel, Staged, StructReader,
    };
}

use crate::embed::Embeddable as EmbeddableObjects;
use crate::kernel::header::ObjectHeader;
use crate::kernel::object::{Instantiable, Object, ObjectType};
use crate::kernel::owned::Owned;
use crate::kernel::tables::{PropertyInfo, PropertyOps};
use crate::kernel::type_info::{ChildInfo, ChildKind, TypeInfo};

/// The header of the object at `this`, with `this`'s provenance.
///
/// # Safety
/// `this` points to (possibly uninitialised) memory for a `T`.
#[inline(always)]
pub unsafe fn header_of<T: ObjectType>(this: NonNull<T>) -> NonNull<ObjectHeader> {
    crate::kernel::lifecycle::header_ptr(this)
}

/// Undoes the build of one field if a later field's build panics (derive
/// glue: one per built field, forgotten once the whole level is built).
pub struct Undo<F> {
    undo: unsafe fn(NonNull<F>),
    field: NonNull<F>,
}

impl<F> Undo<F> {
    /// An undo of `field` by `undo` (`drop_field`, or a role trait's
    /// `unbuild`).
    ///
    /// # Safety
    /// `field` was just built and `undo` unbuilds it; if the guard is
    /// dropped (rather than forgotten), nothing else can reach the field
    /// and it is not used afterwards.
    #[inline(always)]
    pub unsafe fn new(undo: unsafe fn(NonNull<F>), field: NonNull<F>) -> Undo<F> {
        Undo { undo, field }
    }
}

impl<F> Drop for Undo<F> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `new`'s contract.
        unsafe { (self.undo)(self.field) }
    }
}

/// Instantiates `T` as an `Owned<Object>` (stored in `TypeInfo`).
pub fn instantiate<T: Instantiable>() -> Owned<Object> {
    Owned::<T>::new().into_object()
}

/// # Safety
/// Called once, by the finalizer, on an initialised field.
#[inline(always)]
pub unsafe fn drop_field<F>(field: NonNull<F>) {
    // SAFETY: forwarded from the caller.
    unsafe { core::ptr::drop_in_place(field.as_ptr()) }
}

/// Field types accepted by `#[child(embedded)]`: a concrete object type
/// `T`, or an array `[T; N]` of one. Every use the derive makes of an
/// embedded field goes through this one trait, spanned on the field's type,
/// so a misuse is reported once, with this message, at the field.
///
/// # Safety
/// The constants describe the objects in `Self` exactly, and `init`/
/// `release` initialise and release each of them exactly once (they forward
/// to [`crate::Embeddable`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be embedded in a QOM object",
    label = "not a concrete object type, nor an array `[T; N]` of one",
    note = "`#[child(embedded)] field: T` stores the child itself inside the container's allocation; `Owned<T>`, `Box<T>` and `Arc<T>` are pointers, not objects",
    note = "to hold the child in its own allocation instead, write `#[child(owned)] field: Owned<T>`; a field that is not an object needs no `#[child]` at all",
    note = "abstract types cannot be embedded (nor instantiated): embed a concrete subtype"
)]
pub unsafe trait EmbeddedChild {
    /// Number of objects in the field.
    const COUNT: usize;
    /// Whether the objects start shared (they have owned children).
    const SHARED_AT_BIRTH: bool;
    /// What the type's static child table records about the field.
    const SHAPE: EmbeddedShape;

    /// Builds every object in the field, in index order.
    ///
    /// # Safety
    /// See [`crate::Embeddable::init_embedded`].
    unsafe fn init(field: NonNull<Self>, container: NonNull<ObjectHeader>);

    /// Unbuilds every object in the field, in reverse order.
    ///
    /// # Safety
    /// See [`crate::Embeddable::unbuild_embedded`].
    unsafe fn unbuild(field: NonNull<Self>);

    /// Runs the `init` hooks of every object in the field.
    fn run_init_hooks(&self);

    /// Drops the container's reference on every object, in reverse order.
    ///
    /// # Safety
    /// See [`crate::Embeddable::release_embedded`].
    unsafe fn release(field: NonNull<Self>, teardown: Teardown) -> usize;
}

/// The layout of an embedded child field, for its [`ChildInfo`].
#[derive(Clone, Copy)]
pub struct EmbeddedShape {
    count: usize,
    stride: usize,
    array: bool,
    element: &'static TypeInfo,
}

impl EmbeddedShape {
    const fn of<F: EmbeddableObjects>() -> EmbeddedShape {
        EmbeddedShape {
            count: F::COUNT,
            stride: F::STRIDE,
            array: F::IS_ARRAY,
            element: F::ELEMENT_TYPE,
        }
    }
}

// Both impls are `do_not_recommend`: rustc then reports `EmbeddedChild`
// and its message, not "`u32: ObjectType` is not satisfied" followed by a
// list of every object type in scope. The two impls do not overlap:
// `[T; N]` is never `Instantiable` (only the derive implements it, for
// structs).
// SAFETY: forwards to `Embeddable` for one object.
#[diagnostic::do_not_recommend]
unsafe impl<T: Instantiable> EmbeddedChild for T {
    const COUNT: usize = <T as EmbeddableObjects>::COUNT;
    const SHARED_AT_BIRTH: bool = <T as EmbeddableObjects>::SHARED_AT_BIRTH;
    const SHAPE: EmbeddedShape = EmbeddedShape::of::<T>();
    #[inline(always)]
    unsafe fn init(field: NonNull<Self>, container: NonNull<ObjectHeader>) {
        // SAFETY: forwarded from the caller.
        unsafe { <T as EmbeddableObjects>::init_embedded(field, container) }
    }
    #[inline(always)]
    unsafe fn unbuild(field: NonNull<Self>) {
        // SAFETY: forwarded from the caller.
        unsafe { <T as EmbeddableObjects>::unbuild_embedded(field) }
    }
    #[inline(always)]
    fn run_init_hooks(&self) {
        <T as EmbeddableObjects>::run_init_hooks(self);
    }
    #[inline(always)]
    unsafe fn release(field: NonNull<Self>, teardown: Teardown) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { <T as EmbeddableObjects>::release_embedded(field, teardown) }
    }
}

// SAFETY: forwards to `Embeddable` for the array.
#[diagnostic::do_not_recommend]
unsafe impl<T: Instantiable, const N: usize> EmbeddedChild for [T; N] {
    const COUNT: usize = <[T; N] as EmbeddableObjects>::COUNT;
    const SHARED_AT_BIRTH: bool = <[T; N] as EmbeddableObjects>::SHARED_AT_BIRTH;
    const SHAPE: EmbeddedShape = EmbeddedShape::of::<[T; N]>();
    #[inline(always)]
    unsafe fn init(field: NonNull<Self>, container: NonNull<ObjectHeader>) {
        // SAFETY: forwarded from the caller.
        unsafe { <[T; N] as EmbeddableObjects>::init_embedded(field, container) }
    }
    #[inline(always)]
    unsafe fn unbuild(field: NonNull<Self>) {
        // SAFETY: forwarded from the caller.
        unsafe { <[T; N] as EmbeddableObjects>::unbuild_embedded(field) }
    }
    #[inline(always)]
    fn run_init_hooks(&self) {
        <[T; N] as EmbeddableObjects>::run_init_hooks(self);
    }
    #[inline(always)]
    unsafe fn release(field: NonNull<Self>, teardown: Teardown) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { <[T; N] as EmbeddableObjects>::release_embedded(field, teardown) }
    }
}

/// The `ChildInfo` of an embedded field (`<F as EmbeddedChild>::SHAPE`).
///
/// # Safety
/// `offset` is the offset of a field of the declaring type whose
/// `EmbeddedChild` shape is `shape`.
pub const unsafe fn embedded_child_info(
    name: &'static str,
    offset: usize,
    shape: EmbeddedShape,
) -> ChildInfo {
    ChildInfo {
        name,
        kind: ChildKind::Embedded {
            count: shape.count,
            stride: shape.stride,
            array: shape.array,
        },
        offset,
        type_info: shape.element,
    }
}

/// The `ChildInfo` of an owned field (`<F as OwnedChild>::Object`).
///
/// # Safety
/// `offset` is the offset of an `Owned<T>` field of the declaring type.
pub const unsafe fn owned_child_info<T: ObjectType>(
    name: &'static str,
    offset: usize,
) -> ChildInfo {
    ChildInfo {
        name,
        kind: ChildKind::Owned,
        offset,
        type_info: T::TYPE_INFO,
    }
}

/// The `PropertyInfo` of a `#[property]` field
/// (`<F as qom_rt::__property::PropertyField>::OPS`).
///
/// # Safety
/// `offset` is the offset of a field of the declaring type whose type's
/// property operations are `ops`.
pub const unsafe fn property_info(
    name: &'static str,
    doc: &'static str,
    default: &'static str,
    offset: usize,
    ops: PropertyOps,
) -> PropertyInfo {
    PropertyInfo {
        name,
        doc,
        default,
        offset,
        ops,
    }
}

/// Field types accepted by `#[child(owned)]`: `Owned<T>` of a concrete
/// object type. (No `do_not_recommend` on the impl: for `Owned<A>` with
/// `A` abstract, rustc reports "`A` is abstract and cannot be
/// instantiated".)
///
/// # Safety
/// Only `Owned<Self::Object>` implements it: `init` and `release` treat
/// the field as one.
#[diagnostic::on_unimplemented(
    message = "`#[child(owned)]` needs an `Owned<T>` field, found `{Self}`",
    label = "not an `Owned<T>`",
    note = "write `#[child(owned)] field: Owned<T>`: the container creates the child in its own allocation and holds a strong reference to it (`Box<T>` and `Arc<T>` cannot hold a QOM object)",
    note = "to store the child inside the container's allocation instead, write `#[child(embedded)] field: T`"
)]
pub unsafe trait OwnedChild {
    /// The child's type.
    type Object: Instantiable;

    /// Builds the child in its own allocation, as a declared child of the
    /// object whose header is `owner` (no hook runs).
    ///
    /// # Safety
    /// `field` is uninitialised memory for the field inside the object
    /// being built whose header is `owner`, which counted the child's
    /// storage reference on it.
    unsafe fn init(field: NonNull<Self>, owner: NonNull<ObjectHeader>);

    /// Unbuilds the child and frees its allocation.
    ///
    /// # Safety
    /// The field was built by `init`, the child's hooks never ran, and
    /// neither is used afterwards.
    unsafe fn unbuild(field: NonNull<Self>);

    /// Runs the child's `init` hooks.
    fn run_init_hooks(&self);

    /// Drops the owner's reference during its finalize; returns the
    /// storage references to release on the owner, plus the panics caught
    /// (see `lifecycle`).
    ///
    /// # Safety
    /// Called once, by the owner's finalizer, on a built field.
    unsafe fn release(field: NonNull<Self>) -> usize;
}

// SAFETY: `Self` is `Owned<T>`, one pointer to the child.
unsafe impl<T: Instantiable> OwnedChild for Owned<T> {
    type Object = T;

    #[inline]
    unsafe fn init(field: NonNull<Self>, owner: NonNull<ObjectHeader>) {
        // SAFETY: forwarded from the caller.
        let child = unsafe { crate::kernel::lifecycle::new_owned_child::<T>(owner) };
        // SAFETY: uninitialised memory for the field (caller's contract);
        // the child's one strong reference is the owner's, held here.
        unsafe { field.write(Owned::from_counted(child)) };
    }

    #[inline]
    unsafe fn unbuild(field: NonNull<Self>) {
        // SAFETY: built by `init`, not used again (caller's contract).
        let child = unsafe { field.read() }.into_raw();
        // SAFETY: the child was made by `new_owned_child`, its hooks never
        // ran, and only this field knew of it.
        unsafe { crate::kernel::lifecycle::unbuild_owned_child(child) };
    }

    #[inline(always)]
    fn run_init_hooks(&self) {
        self.__run_init_hooks();
    }

    #[inline]
    unsafe fn release(field: NonNull<Self>) -> usize {
        // SAFETY: built, and never used again (caller's contract).
        let child = unsafe { field.read() }.into_raw();
        // SAFETY: the field held the owner's reference, given up here.
        unsafe { crate::kernel::lifecycle::release_owned(child) }
    }
}

/// Field types allowed as plain (non-child) fields of an object: built in
/// place with `Default::default()`, set up in `ObjectImpl::init`.
///
/// # Safety
/// `init_in_place` initialises the field (the finalizer drops it).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a plain field of a QOM object",
    label = "not a child, and no `Default` to build it with",
    note = "if `{Self}` is a QOM object type, mark the field `#[child(embedded)]` to store it in the container, or hold it as `#[child(owned)] field: Owned<{Self}>`",
    note = "otherwise implement `Default` for `{Self}` so the object can be built in place, and set its value in `ObjectImpl::init`"
)]
pub unsafe trait PlainField {
    /// Builds the field in place with `Default::default()`.
    ///
    /// # Safety
    /// `field` is uninitialised memory for the field.
    unsafe fn init_in_place(field: NonNull<Self>);
}
// No `Default` supertrait: a path to `init_in_place` would then report
// "`T: Default` is not satisfied" instead of this trait's message.
// SAFETY: writes `T::default()`.
#[diagnostic::do_not_recommend]
unsafe impl<T: Default> PlainField for T {
    #[inline(always)]
    unsafe fn init_in_place(field: NonNull<Self>) {
        // SAFETY: forwarded from the caller.
        unsafe { field.write(T::default()) }
    }
}

/// Field types that may live in an object shared between threads.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not thread safe, so it cannot be a field of a QOM object",
    label = "objects are shared between threads (`Owned<T>` is `Send` and `Sync`)",
    note = "use an atomic (`AtomicU32`, ...), a `Mutex` or `RwLock`, or `qom_rt::Prop<T>` (`.get()`/`.set()`) instead of `Cell` or `RefCell`, and `Arc` instead of `Rc`"
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

/// The type of an object's first field, checked by type rather than by
/// name: the derive recognises the field by its spelling
/// `ParentField<P>`, and the runtime then reads the header through it, so
/// a local `type ParentField<P> = Box<P>;` (or any other type spelt that
/// way) must not compile.
#[diagnostic::on_unimplemented(
    message = "the parent field must be `qom_rt::ParentField<{P}>`, found `{Self}`",
    label = "not `qom_rt::ParentField<{P}>`",
    note = "the first field embeds the parent type in place, with the object header at its bottom; write `parent: qom_rt::ParentField<{P}>` (the prelude's `ParentField`), not a type of your own with that name"
)]
pub trait IsParentField<P> {}
impl<P: ObjectType> IsParentField<P> for crate::kernel::object::ParentField<P> {}

/// A conflicting-impl guard: the derive implements it for every object
/// type, so `#[derive(Clone)]` (or `Copy`) on an object type fails to
/// compile: an object copied out of its allocation would duplicate its
/// header and reference counts. (Clone an `Owned<T>` instead: that is a
/// new reference to the same object.)
pub trait ObjectTypesMustNotBeClone {}
impl<T: Clone> ObjectTypesMustNotBeClone for T {}

mod sealed {
    /// Nothing implements it: the bounds below never hold.
    pub trait Never {}
}

/// The bound of a `Default` impl on `ParentField` that never applies, so
/// that a struct literal (`parent: Default::default()`) or
/// `#[derive(Default)]` on an object type reports this message rather
/// than "`ParentField<P>: Default` is not satisfied". Sealed: never
/// implemented.
#[diagnostic::on_unimplemented(
    message = "QOM objects cannot be built with a struct literal or `Default`",
    label = "a `ParentField` exists only inside an object made by `Owned::new`",
    note = "create the object with `Owned::<T>::new()` (or `qom_rt::new_by_name`): it allocates the object, builds its fields and runs `ObjectImpl::init`, where you set the fields' initial values"
)]
pub trait ObjectsComeFromOwnedNew: sealed::Never {}

/// Compile-time assertion helpers; the derive calls them in a function
/// that is never run, spanned on the field they check. (A field's role —
/// embedded, owned, plain, property — is checked by the generated code's
/// uses of its role trait instead.)
pub const fn assert_thread_safe<F: ThreadSafeField + ?Sized>() {}
/// See [`assert_thread_safe`].
pub const fn assert_same_parent<A: SameParent<P>, P>() {}
/// See [`assert_thread_safe`].
pub const fn assert_object_type<T: ObjectType>() {}
/// See [`assert_thread_safe`].
pub const fn assert_parent_field<F: IsParentField<P>, P>() {}

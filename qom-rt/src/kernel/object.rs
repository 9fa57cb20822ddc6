//! The root type [`Object`], the [`ObjectType`] trait every object type
//! implements (through the derive), and the traits that make casts checked
//! at compile time.

use crate::kernel::header::{Link, ObjectHeader};
use crate::kernel::type_info::TypeInfo;
use core::ptr::NonNull;

/// Implemented by `#[derive(QomObject)]` for every object type.
///
/// # Safety
/// The implementation must describe the type exactly: `HEADER_OFFSET` is
/// the offset of the [`ObjectHeader`] reached through the `ParentField`
/// chain, `header` returns that header, `TYPE_INFO` describes `Self`,
/// `DECLARED_CHILDREN` counts the embedded and owned children of `Self`
/// and its parents, `SHARED_AT_BIRTH` is true if `Self`, a parent or an
/// embedded child has an owned child, `DEPTH` is the parent's plus one,
/// the hidden functions build, unbuild and finalize exactly the fields of
/// `Self` as documented on each, and `Self` is `Send + Sync` (the derive
/// checks every field), since objects are shared between threads through
/// `Owned<Object>`. Only the derive implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a QOM object type",
    label = "not a QOM object type",
    note = "object types are structs with `#[derive(QomObject)]` and a `ParentField<P>` first field"
)]
pub unsafe trait ObjectType: Sized + 'static {
    /// The parent type (`Object` is its own parent).
    type Parent: ObjectType;
    /// The static type information.
    const TYPE_INFO: &'static TypeInfo;
    /// Offset of the object header from the start of `Self`.
    const HEADER_OFFSET: usize;
    /// Number of declared (embedded and owned) child objects of `Self` and
    /// its parent types, array elements counted one by one: each holds a
    /// storage reference on this object until its own finalize ends.
    const DECLARED_CHILDREN: usize;
    /// Whether the object starts `SHARED` (see the design document): it or an
    /// object embedded in it has an owned child, which can reach its owner
    /// through a back-link rather than through a strong reference.
    const SHARED_AT_BIRTH: bool;
    /// Depth in the hierarchy (`Object` is 0).
    const DEPTH: usize;

    /// The object header shared by every level of the hierarchy.
    fn header(&self) -> &ObjectHeader;

    /// Builds every field of `Self` (parents first, then embedded children
    /// in declaration order, then the remaining fields), running no hook.
    /// If building a field panics, the fields built so far are unbuilt
    /// (as by [`__unbuild`](Self::__unbuild)) before the panic goes on.
    ///
    /// # Safety
    /// `this` points to uninitialised memory valid for `Self`, carrying the
    /// provenance of the whole allocation, which nothing else can reach.
    #[doc(hidden)]
    unsafe fn __init_fields(this: NonNull<Self>, ctx: InitContext);

    /// Drops every field of a built object whose hooks never ran, in the
    /// reverse of the build order, and frees its owned children: the undo
    /// of [`__init_fields`](Self::__init_fields) when a later field of the
    /// allocation panics while being built.
    ///
    /// # Safety
    /// `this` was built by `__init_fields`, nothing else can reach it, and
    /// it is not used afterwards.
    #[doc(hidden)]
    unsafe fn __unbuild(this: NonNull<Self>);

    /// Runs the `init` hooks of the object and its declared children:
    /// the parent type's first, and each object's children before it.
    #[doc(hidden)]
    fn __run_init_hooks(&self);

    /// Runs the `finalize` hooks, drops fields and releases children,
    /// subtype first. Returns how many storage references on this object
    /// the children torn down in place would have released, plus
    /// [`PANIC_UNIT`](crate::kernel::lifecycle) for each panic caught from user
    /// code meanwhile.
    ///
    /// # Safety
    /// Called once, by the finalizer, once the strong count is parked.
    /// `this` carries the provenance of the whole allocation.
    #[doc(hidden)]
    unsafe fn __finalize_levels(this: NonNull<Self>) -> usize;
}

/// What the most-derived type passes down the `ParentField` chain while
/// initialising (opaque; used by the derive).
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct InitContext {
    pub(crate) type_info: &'static TypeInfo,
    pub(crate) declared_children: usize,
    pub(crate) shared: bool,
    pub(crate) link: Link,
}

/// Instance hooks, like QOM's `instance_init` and `instance_finalize`.
///
/// Every object type implements it, usually as `impl ObjectImpl for X {}`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `ObjectImpl`",
    label = "missing `impl ObjectImpl for {Self} {{}}`",
    note = "every QOM object type needs its instance hooks, even empty ones: add `impl qom_rt::ObjectImpl for {Self} {{}}`"
)]
pub trait ObjectImpl: ObjectType {
    /// Runs once the whole allocation is built -- every field of every
    /// level, every embedded and owned child -- after the parent type's
    /// `init` and after the children's own. Like QOM's `instance_init`.
    /// If it panics, the object is finalized as if dropped (finalize hooks
    /// included) and the panic goes on.
    #[inline]
    fn init(&self) {}

    /// Runs exactly once, when the last strong reference is gone, before
    /// the parent type's `finalize`; children are still usable here.
    #[inline]
    fn finalize(&self) {}
}

/// Implemented for `Self` and every ancestor of `Self`: the bound that makes
/// [`upcast`](crate::ObjectCast::upcast) checked at compile time.
///
/// # Safety
/// `Self` must contain `U` through its `ParentField` chain.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a subtype of `{U}`",
    label = "`{U}` is not an ancestor of `{Self}`",
    note = "`upcast` goes only to ancestors; for a checked cast at run time use `downcast::<{U}>()`, which returns an `Option`"
)]
pub unsafe trait IsA<U: ObjectType>: ObjectType {}

/// Implemented for types that are not `#[qom(abstract)]`.
///
/// # Safety
/// `Self` must not be abstract.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is abstract and cannot be instantiated",
    label = "abstract type",
    note = "create an instance of a concrete subtype of `{Self}` instead, then upcast it"
)]
pub unsafe trait Instantiable: ObjectType {}

/// The first field of every object type: the parent type, embedded in
/// place (single inheritance). It cannot be built by hand, so an object
/// cannot be built with a struct literal: use `Owned::new`.
#[repr(transparent)]
pub struct ParentField<P: ObjectType>(P);

impl<P: ObjectType> core::ops::Deref for ParentField<P> {
    type Target = P;
    #[inline]
    fn deref(&self) -> &P {
        &self.0
    }
}

/// The root of the type hierarchy, `"object"`: just the header.
pub struct Object {
    header: ObjectHeader,
}

static OBJECT_ANCESTORS: [&TypeInfo; 1] = [&OBJECT_TYPE_INFO];
pub(crate) static OBJECT_TYPE_INFO: TypeInfo = TypeInfo {
    name: "object",
    rust_name: "qom_rt::Object",
    parent: None,
    ancestors: &OBJECT_ANCESTORS,
    header_offset: 0,
    layout: core::alloc::Layout::new::<Object>(),
    is_abstract: true,
    children: &[],
    properties: &[],
    instantiate: None,
    classes: &[],
    interfaces: crate::kernel::tables::InterfaceSlot::new(None),
    finalize: crate::kernel::lifecycle::finalize_erased::<Object>,
};

// SAFETY: `Object` is exactly a header at offset 0 with no children; it is
// its own parent, so the parent chain ends here.
unsafe impl ObjectType for Object {
    type Parent = Object;
    const TYPE_INFO: &'static TypeInfo = &OBJECT_TYPE_INFO;
    const HEADER_OFFSET: usize = 0;
    const DECLARED_CHILDREN: usize = 0;
    const SHARED_AT_BIRTH: bool = false;
    const DEPTH: usize = 0;

    #[inline]
    fn header(&self) -> &ObjectHeader {
        &self.header
    }

    #[inline]
    unsafe fn __init_fields(this: NonNull<Self>, ctx: InitContext) {
        let header = ObjectHeader::new(ctx.type_info, ctx.declared_children, ctx.shared, ctx.link);
        // SAFETY: the caller guarantees `this` is valid for writes.
        unsafe { core::ptr::addr_of_mut!((*this.as_ptr()).header).write(header) };
    }

    #[inline]
    unsafe fn __unbuild(_: NonNull<Self>) {}

    #[inline]
    fn __run_init_hooks(&self) {
        <Object as ObjectImpl>::init(self);
    }

    #[inline]
    unsafe fn __finalize_levels(this: NonNull<Self>) -> usize {
        // SAFETY: the caller guarantees `this` points to a live object.
        let object = unsafe { this.as_ref() };
        <Object as ObjectImpl>::finalize(object);
        // Dynamic children (`add_child`) are released after this, by
        // `lifecycle::finalize`.
        0
    }
}

impl ObjectImpl for Object {}

// SAFETY: every type is a subtype of itself.
unsafe impl IsA<Object> for Object {}

impl core::fmt::Debug for Object {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = &self.header;
        f.debug_struct("Object")
            .field("type", &h.type_info().name())
            .field("refs", &h.ref_count())
            .field("storage", &h.storage_count())
            .field("state", &h.state())
            .finish()
    }
}

//! Types that must never migrate, each with the message that says what to
//! write instead. Each impl below requires a sealed trait that nothing
//! implements, so it never applies; rustc then reports that trait's
//! `on_unimplemented` message (which names the real problem) instead of
//! the generic "has no migration format". The ui-tests crate holds a case
//! for each (`migration/raw-pointer-field`, `closure-field`,
//! `owned-not-a-child`).

use super::field::MigrateField;
use super::value::{LoadContext, Value, ValueError, ValueKind, VmState};
use crate::kernel::object::ObjectType;
use crate::kernel::owned::Owned;
use core::ptr::NonNull;
use std::sync::atomic::AtomicPtr;
use std::sync::Arc;

mod sealed {
    /// Nothing implements it: the bounds below never hold.
    pub trait Never {}
}

/// The bound of the impls for pointers. Sealed: never implemented.
#[diagnostic::on_unimplemented(
    message = "a pointer cannot be migrated: `{Self}` is an address in this process, which means nothing in another",
    label = "an address, not state",
    note = "migrate what the pointer stands for (a guest address, an index into a table) in an integer field, and rebuild the pointer in `MigrationHooks::post_load`"
)]
pub trait PointersAreNotState: sealed::Never {}

/// The bound of the impls for `Box` and `Arc` (closures, trait objects,
/// shared buffers). Sealed: never implemented.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be migrated: a boxed closure or trait object is code, not state",
    label = "a `Box` or `Arc` is not restored through a migration",
    note = "leave the field without `#[migrate]` and connect it again on the destination (a character backend, an interrupt sink: the machine wires them when it is built)",
    note = "if it holds state, migrate the state itself: a `Mutex<T>` with `T: VmState`"
)]
pub trait ClosuresAreNotState: sealed::Never {}

/// The bound of the impl for `Owned<T>`. Sealed: never implemented.
#[diagnostic::on_unimplemented(
    message = "an `Owned` reference cannot be migrated as a value: `{Self}` is not a declared child",
    label = "a reference to an object, not state",
    note = "declare the object as a child (`#[child(owned)] field: Owned<T>` or `#[child(embedded)] field: T`): a child migrates as a section of its own, keyed by its path",
    note = "for an object that lives elsewhere, hold a `#[property] field: Link<T>`: links are set up again on the destination, which has the same objects"
)]
pub trait OwnedIsNotState: sealed::Never {}

macro_rules! never_state {
    ($bound:ident: $($ty:ty),* $(,)?) => {$(
        impl<T: ?Sized + 'static> VmState for $ty
        where
            $ty: $bound,
        {
            const KIND: &'static ValueKind = &ValueKind::Bool;
            fn to_value(&self) -> Value {
                unreachable!("the bound never holds")
            }
            fn from_value(_: &Value, _: &LoadContext) -> Result<Self, ValueError> {
                unreachable!("the bound never holds")
            }
        }
    )*};
}

macro_rules! never_field {
    ($bound:ident: $($ty:ty),* $(,)?) => {$(
        impl<T: ?Sized + 'static> MigrateField for $ty
        where
            $ty: $bound,
        {
            type Value = bool;
            fn save(&self) -> Value {
                unreachable!("the bound never holds")
            }
            fn restore(&self, _: bool) {
                unreachable!("the bound never holds")
            }
        }
    )*};
}

never_state!(PointersAreNotState: *const T, *mut T, NonNull<T>);
never_state!(ClosuresAreNotState: Box<T>, Arc<T>);
never_field!(PointersAreNotState: *const T, *mut T, NonNull<T>);
never_field!(ClosuresAreNotState: Box<T>, Arc<T>);

impl<T: 'static> MigrateField for AtomicPtr<T>
where
    AtomicPtr<T>: PointersAreNotState,
{
    type Value = bool;
    fn save(&self) -> Value {
        unreachable!("the bound never holds")
    }
    fn restore(&self, _: bool) {
        unreachable!("the bound never holds")
    }
}

impl<T: ObjectType> VmState for Owned<T>
where
    Owned<T>: OwnedIsNotState,
{
    const KIND: &'static ValueKind = &ValueKind::Bool;
    fn to_value(&self) -> Value {
        unreachable!("the bound never holds")
    }
    fn from_value(_: &Value, _: &LoadContext) -> Result<Self, ValueError> {
        unreachable!("the bound never holds")
    }
}

//! # qom_rt — QEMU's object model, with embedded children that never dangle
//!
//! Objects with single inheritance, a composition tree of named children,
//! reference counting, properties, and — the point of the crate — children
//! embedded in their container's memory that can be referenced on their own
//! without ever dangling. Every object has two counts: `ref` (logical life:
//! finalize at zero) and `storage_ref` (memory: free at zero). An embedded
//! child holds a storage reference on its container until its own finalize
//! ends, so `Owned::from(&container.child)` is safe.
//!
//! ```
//! use qom_rt::prelude::*;
//!
//! #[derive(QomObject)]
//! #[qom(name = "bar")]
//! pub struct Bar { parent: ParentField<Object> }
//! impl ObjectImpl for Bar {}
//!
//! #[derive(QomObject)]
//! #[qom(name = "controller")]
//! pub struct Controller {
//!     parent: ParentField<Object>,
//!     #[child(embedded)]
//!     bars: [Bar; 2],
//!     #[property(default = 4)]
//!     num_ports: Prop<u32>,
//! }
//! impl ObjectImpl for Controller {}
//!
//! let dev = Owned::<Controller>::new();          // one allocation
//! let bar: Owned<Bar> = Owned::from(&dev.bars[1]); // keeps the storage alive
//! drop(dev);                                       // controller finalizes
//! assert!(bar.container::<Controller>().is_none()); // and is unreachable
//! drop(bar);                                       // now the memory is freed
//! ```
//!
//! See the guide in `book/` for the full story.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate self as qom_rt;

// The kernel: what runs while an object finalizes (see its module docs
// for what may run then and the lock order). Everything below it in this
// list is built on it and never imported by it.
mod kernel;

mod cast;
mod class;
mod computed;
mod embed;
mod error;
mod graph;
mod link;
mod listing;
pub mod migration;
mod property;
mod property_enum;
mod property_field;
mod registry;
mod size;
mod suggest;
mod tree;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cast::ObjectCast;
pub use class::{parent_class, Class, ClassFor, Interface, ListedInterface, ObjectClass};
#[doc(hidden)]
pub use class::{
    ClassChain as __ClassChain, ClassPtrs as __ClassPtrs, InterfaceMarker as __InterfaceMarker,
    Subclassable as __Subclassable,
};
pub use computed::{ComputedProperties, ComputedProperty};
pub use embed::Embeddable;
pub use error::{Error, Result};
pub use graph::graph_dot;
pub use kernel::header::{LifeState, ObjectHeader};
pub use kernel::object::{Instantiable, IsA, Object, ObjectImpl, ObjectType, ParentField};
pub use kernel::owned::Owned;
#[doc(hidden)]
pub use kernel::tables::Caster as __Caster;
pub use kernel::tables::ClassTable;
pub use kernel::tables::PropertyInfo;
pub use link::Link;
pub use listing::{format_qom_list, list_object, qom_list, ListingKind, PropertyListing};
pub use property::{ObjectProperties, Prop, PropertyGuard, PropertyType};
pub use property_enum::PropertyEnum;
pub use size::Size;

/// Support for the property code the derive and `property_enum!`
/// generate. Not a public API.
#[doc(hidden)]
pub mod __property {
    pub use crate::kernel::tables::PropertyOps;
    pub use crate::property_enum::{expected_variant, kebab_bytes, kebab_len, unique_names};
    pub use crate::property_field::*;
}
pub use kernel::type_info::{ChildInfo, ChildKind, TypeInfo};
pub use registry::{check_registry, new_by_name, type_by_name, types};
pub use tree::{container, qom_tree, resolve_path, root, ChildEntry, ChildEntryKind, ObjectTree};

/// Derives an object type: registration, init and finalize glue, child and
/// property tables. See the crate docs and the guide.
pub use qom_derive::QomObject;

/// Marks a trait as a QOM interface: objects list it with
/// `#[qom(interfaces(Trait))]` and are queried with
/// `object.interface::<dyn Trait>()`. Implementing it without listing it
/// does not compile.
pub use qom_derive::interface;

/// Everything a device model needs, in one `use`.
pub mod prelude {
    pub use crate::{
        Instantiable, IsA, Link, Object, ObjectCast, ObjectClass, ObjectImpl, ObjectProperties,
        ObjectTree, ObjectType, Owned, ParentField, Prop, PropertyGuard, QomObject, Size,
    };
}

/// A container object (`"container"`), like QEMU's `TYPE_CONTAINER`: an
/// object whose only purpose is to hold dynamic children
/// (`/machine/peripheral`).
#[derive(QomObject)]
#[qom(name = "container")]
pub struct Container {
    parent: ParentField<Object>,
}

impl ObjectImpl for Container {}

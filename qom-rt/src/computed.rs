//! Read-only computed properties: a value an object works out when asked
//! (QEMU's properties with a getter and no setter, such as qdev's
//! `realized` on a device that cannot be unrealized from outside, or
//! `parent_bus`), rather than one held in a `#[property]` field.
//!
//! A type lists the [`ComputedProperties`] interface and returns its
//! entries, each with its value, from
//! [`computed_properties`](ComputedProperties::computed_properties).
//! [`get_property`](crate::ObjectProperties::get_property) and
//! [`qom_list`](crate::qom_list) read them like field properties;
//! [`set_property`](crate::ObjectProperties::set_property) and
//! [`set_property_typed`](crate::ObjectProperties::set_property_typed) fail
//! with [`Error::ReadOnlyProperty`](crate::Error::ReadOnlyProperty) naming
//! the object and the property.
//!
//! The getter is ordinary safe code run on a borrowed object, with no
//! runtime lock held: it may walk the tree, read other properties, or drop
//! references (even the last one held elsewhere) — the caller's borrow
//! keeps the object alive until the getter returns.

use crate::property::PropertyType;

/// One computed property and its current value.
///
/// ```
/// use qom_rt::ComputedProperty;
/// let p = ComputedProperty::new("realized", "whether the device is realized", true);
/// assert_eq!((p.name, p.type_name, p.value.as_str()), ("realized", "bool", "on"));
/// let l = ComputedProperty::with_type("parent_bus", "link<bus>", "", "/machine/pcie".into());
/// assert_eq!(l.type_name, "link<bus>");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedProperty {
    /// The property name (`realized`, `parent_bus`).
    pub name: &'static str,
    /// The type as `qom-list` shows it (`bool`, `int32`, `link<bus>`).
    pub type_name: &'static str,
    /// What the property says.
    pub doc: &'static str,
    /// The value as `qom-get` prints it.
    pub value: String,
}

impl ComputedProperty {
    /// An entry whose type and text come from a [`PropertyType`] value.
    ///
    /// See [`ComputedProperty`] for an example.
    pub fn new<V: PropertyType>(name: &'static str, doc: &'static str, value: V) -> Self {
        ComputedProperty {
            name,
            type_name: V::TYPE_NAME,
            doc,
            value: value.format(),
        }
    }

    /// An entry with a type name of its own (`link<bus>`, `str`) and its
    /// text as given.
    ///
    /// See [`ComputedProperty`] for an example.
    pub fn with_type(
        name: &'static str,
        type_name: &'static str,
        doc: &'static str,
        value: String,
    ) -> Self {
        ComputedProperty {
            name,
            type_name,
            doc,
            value,
        }
    }
}

/// An object's read-only computed properties: a QOM interface.
///
/// A type lists it with `#[qom(interfaces(ComputedProperties))]`; its
/// subtypes inherit the implementation, and a subtype that lists it again
/// replaces it (call the parent type's from yours to keep its entries).
/// A computed property named like a `#[property]` field or `type` is
/// hidden by them.
///
/// ```
/// use qom_rt::prelude::*;
/// use qom_rt::{ComputedProperties, ComputedProperty};
///
/// #[derive(QomObject)]
/// #[qom(name = "doc-computed", interfaces(ComputedProperties))]
/// struct Fifo {
///     parent: ParentField<Object>,
///     #[property(default = 16)]
///     depth: Prop<u32>,
/// }
/// impl ObjectImpl for Fifo {}
/// impl ComputedProperties for Fifo {
///     fn computed_properties(&self) -> Vec<ComputedProperty> {
///         vec![ComputedProperty::new("bytes", "depth in bytes", self.depth.get() * 4)]
///     }
/// }
///
/// let f = Owned::<Fifo>::new();
/// f.set_property("depth", "8").unwrap();
/// assert_eq!(f.get_property("bytes").unwrap(), "32");
/// let err = f.set_property("bytes", "4").unwrap_err();
/// assert_eq!(err.to_string(), "`<detached doc-computed>`: property `bytes` is read-only");
/// let names: Vec<_> = qom_rt::list_object(&*f).into_iter().map(|e| e.to_string()).collect();
/// assert_eq!(names, ["type (string)", "depth (uint32)", "bytes (uint32)"]);
/// ```
#[qom_derive::interface]
pub trait ComputedProperties {
    /// Every computed property with its value now, in the order
    /// `qom-list` shows them.
    fn computed_properties(&self) -> Vec<ComputedProperty>;
}

/// The object's computed properties (none if its type does not list the
/// interface).
pub(crate) fn computed_of<T: crate::ObjectType>(object: &T) -> Vec<ComputedProperty> {
    use crate::class::ObjectClass;
    object
        .interface::<dyn ComputedProperties>()
        .map(|c| c.computed_properties())
        .unwrap_or_default()
}

/// The computed property `name` of the object, if it has one.
pub(crate) fn find_computed<T: crate::ObjectType>(
    object: &T,
    name: &str,
) -> Option<ComputedProperty> {
    computed_of(object).into_iter().find(|p| p.name == name)
}

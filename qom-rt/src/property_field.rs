//! Support for the property code `#[derive(QomObject)]` generates
//! (re-exported as the hidden `qom_rt::__property`). Not a public API.
//!
//! A `#[property]` field is a [`Prop<T>`] (a value) or a [`Link<T>`] (a
//! reference to another object); [`PropertyField`] says how to build one
//! and carries its [`PropertyOps`] for the type's static table.

use crate::kernel::object::ObjectType;
use crate::kernel::tables::PropertyOps;
use crate::link::Link;
use crate::property::{value_ops, Prop, PropertyType};

/// Field types accepted by `#[property]`.
///
/// # Safety
/// `OPS` must operate on a field of type `Self`.
#[diagnostic::on_unimplemented(
    message = "`#[property]` needs a `Prop<T>` or `Link<T>` field, found `{Self}`",
    label = "not a `Prop<T>` or `Link<T>`",
    note = "write `#[property] field: Prop<T>` with `T` a property type (`bool`, an integer, `String`, `qom_rt::Size`, an enum from `qom_rt::property_enum!`, ...)",
    note = "or `#[property] field: Link<T>` for a reference to another object of type `T`"
)]
pub unsafe trait PropertyField: Send + Sync + 'static {
    /// What `#[property(default = ...)]` must give.
    type Default;
    /// The field's operations, copied into its `PropertyInfo`.
    const OPS: PropertyOps;
    /// The field holding `value`.
    fn with_default(value: Self::Default) -> Self;
}

// SAFETY: `value_ops::<T>` casts the field to `Prop<T>`.
unsafe impl<T: PropertyType> PropertyField for Prop<T> {
    type Default = T;
    const OPS: PropertyOps = value_ops::<T>();
    fn with_default(value: T) -> Self {
        Prop::new(value)
    }
}

/// The "default" of a link: links start unset and take no
/// `#[property(default = ...)]`.
#[derive(Default)]
pub struct NoDefaultForLinks;

// SAFETY: `link_ops::<T>` casts the field to `Link<T>`.
unsafe impl<T: ObjectType> PropertyField for Link<T> {
    type Default = NoDefaultForLinks;
    const OPS: PropertyOps = crate::link::link_ops::<T>();
    fn with_default(_: NoDefaultForLinks) -> Self {
        Link::new()
    }
}

/// A value usable as `#[property(default = ...)]`: a value of the
/// property's type, or a string literal for a `String` property.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the default of a property holding `{T}`",
    label = "not a `{T}`",
    note = "write a value of the property's type (`default = 4`, `default = qom_rt::Size::mib(16)`, `default = Mode::Auto`), or a string literal for a `String`",
    note = "links (`Link<T>`) have no default: they start unset"
)]
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

/// A property value type usable without `#[property(default = ...)]`.
#[diagnostic::on_unimplemented(
    message = "property type `{Self}` has no `Default`, so the property needs a default",
    label = "give the property `#[property(default = ...)]`",
    note = "or implement `Default` for `{Self}` (with `#[default]` on an enum variant)"
)]
pub trait DefaultValue {
    /// The value a property starts with.
    fn default_value() -> Self;
}
#[diagnostic::do_not_recommend]
impl<T: Default> DefaultValue for T {
    fn default_value() -> Self {
        T::default()
    }
}

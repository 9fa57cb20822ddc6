//! The attribute grammar, parsed by `darling` (which also supplies the
//! "did you mean" for unknown keys).

use darling::util::{Flag, SpannedValue};
use darling::FromMeta;

/// `#[qom(name = "...", parent = Type, abstract)]` on the struct.
#[derive(Debug, Default, FromMeta)]
pub struct QomAttr {
    /// The QOM type name; defaults to the struct name in kebab-case.
    pub name: Option<SpannedValue<String>>,
    /// The parent type; optional, must agree with `ParentField<P>`.
    pub parent: Option<syn::Path>,
    /// The class struct this type declares (virtual methods, constants).
    pub class: Option<syn::Path>,
    /// Interfaces (traits marked `#[qom_rt::interface]`) the type
    /// implements.
    pub interfaces: Option<darling::util::PathList>,
    /// Abstract types cannot be instantiated.
    #[darling(rename = "abstract")]
    pub is_abstract: Flag,
}

/// `#[child(embedded)]` or `#[child(owned)]` on a field.
#[derive(Debug, Default, FromMeta)]
pub struct ChildAttr {
    /// Stored in the container's allocation.
    pub embedded: Flag,
    /// Held by an `Owned<T>` in its own allocation.
    pub owned: Flag,
}

/// `#[property(name = "...", default = expr, doc = "...")]` on a field.
#[derive(Debug, Default, FromMeta)]
pub struct PropertyAttr {
    /// The property name; defaults to the field name with `_` -> `-`.
    pub name: Option<SpannedValue<String>>,
    /// The default value (an expression of the value type, or a string
    /// literal for `String`). A string literal stays a string literal
    /// (darling would otherwise parse its contents as an expression).
    #[darling(
        default,
        with = darling::util::parse_expr::preserve_str_literal,
        map = Some
    )]
    pub default: Option<syn::Expr>,
    /// Help text shown by `-device TYPE,help` and `qom-list`.
    pub doc: Option<String>,
}

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

/// `#[child(embedded)]` or `#[child(owned)]` on a field, with an optional
/// `name = "..."`.
#[derive(Debug, Default, FromMeta)]
pub struct ChildAttr {
    /// Stored in the container's allocation.
    pub embedded: Flag,
    /// Held by an `Owned<T>` in its own allocation.
    pub owned: Flag,
    /// The child's name in the tree (`xhci-core`); defaults to the field
    /// name.
    pub name: Option<SpannedValue<String>>,
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

/// `#[migrate(version = N, min_version = M)]` on an object type (or a
/// bare `#[migrate]`): the version of its own migrated state.
#[derive(Debug, Default, FromMeta)]
pub struct MigrateTypeAttr {
    /// The version a save writes; 1 unless given.
    pub version: Option<SpannedValue<u32>>,
    /// The oldest version a load accepts (0: a stream without this
    /// level); 1 unless given.
    pub min_version: Option<SpannedValue<u32>>,
}

/// `#[migrate]` or `#[migrate(since = N, needed = path)]` on an object's
/// field.
#[derive(Debug, Default, FromMeta)]
pub struct MigrateFieldAttr {
    /// The version of the type's state that added the field; 1 unless
    /// given.
    pub since: Option<SpannedValue<u32>>,
    /// A subsection: `fn(&Self) -> bool` saying whether to send it.
    pub needed: Option<syn::Path>,
}

/// `#[migrate(check = path)]` on a struct with `#[derive(VmState)]`.
#[derive(Debug, Default, FromMeta)]
pub struct VmStateAttr {
    /// `fn(&mut Self, version: u32) -> Result<(), String>`, run on every
    /// decoded value before anything is applied.
    pub check: Option<syn::Path>,
}

/// `#[migrate(since = N, default = expr)]` on a field of a struct with
/// `#[derive(VmState)]`.
#[derive(Debug, Default, FromMeta)]
pub struct VmStateFieldAttr {
    /// The version of the enclosing object's state that added the field.
    pub since: Option<SpannedValue<u32>>,
    /// Its value when an older stream lacks it (else `Default`).
    pub default: Option<syn::Expr>,
}

/// Parses `#[migrate]` alone as every default, `#[migrate(...)]` with
/// darling.
pub fn parse_migrate<T: FromMeta + Default>(attr: &syn::Attribute) -> darling::Result<T> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(T::default()),
        meta => T::from_meta(meta),
    }
}

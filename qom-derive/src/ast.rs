//! A typed view of the derive input that keeps the original `syn` nodes,
//! so every later error can be spanned on what the user wrote.

use crate::attr::{
    parse_migrate, ChildAttr, MigrateFieldAttr, MigrateTypeAttr, PropertyAttr, QomAttr,
};
use darling::FromMeta;
use syn::spanned::Spanned;

/// The parsed struct.
pub struct Input<'a> {
    pub original: &'a syn::DeriveInput,
    pub attrs: QomAttr,
    pub fields: Vec<Field<'a>>,
    /// The named fields, or what kind of item it was instead.
    pub shape: Shape,
    /// Every `#[migrate]` attribute on the struct (one is allowed).
    pub migrate_attrs: Vec<&'a syn::Attribute>,
    /// The first `#[migrate(...)]` on the struct that parsed.
    pub migrate: Option<MigrateTypeAttr>,
}

/// Whether the item is a struct with named fields.
pub enum Shape {
    Named,
    /// Enum, union, tuple or unit struct, and the token to point at.
    Other(&'static str, proc_macro2::Span),
}

/// One field and what its attributes make of it.
pub struct Field<'a> {
    pub original: &'a syn::Field,
    pub ident: &'a syn::Ident,
    pub ty: &'a syn::Type,
    pub role: Role,
    /// Every `#[child]`/`#[property]` attribute on the field.
    pub role_attrs: Vec<&'a syn::Attribute>,
    /// The last `#[child(...)]` that parsed, with its attribute.
    pub child: Option<(ChildAttr, &'a syn::Attribute)>,
    /// Every `#[migrate]` attribute on the field (one is allowed).
    pub migrate_attrs: Vec<&'a syn::Attribute>,
    /// The first `#[migrate(...)]` on the field that parsed.
    pub migrate: Option<MigrateFieldAttr>,
}

/// What a field is to the object.
pub enum Role {
    /// `ParentField<P>`, with `P`.
    Parent(syn::Type),
    /// `#[child(embedded)]`.
    Embedded,
    /// `#[child(owned)]`.
    Owned,
    /// `#[property(...)]`.
    Property(PropertyAttr),
    /// Anything else; built with `Default`.
    Plain,
}

impl Role {
    pub fn is_child(&self) -> bool {
        matches!(self, Role::Embedded | Role::Owned)
    }
}

impl<'a> Input<'a> {
    /// Parses the item and every attribute. Attribute errors go to
    /// `errors` and parsing goes on, so the cross-field checks still run and
    /// every mistake of one struct is reported in one build.
    pub fn parse(
        input: &'a syn::DeriveInput,
        errors: &mut darling::error::Accumulator,
    ) -> Input<'a> {
        let mut attrs = QomAttr::default();
        let mut qom_attr = None;
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("qom")) {
            if qom_attr.is_some() {
                errors.push(
                    darling::Error::custom("duplicate `#[qom]` attribute; merge the keys into one")
                        .with_span(attr),
                );
                continue;
            }
            qom_attr = Some(attr);
            if let Some(parsed) = errors.handle(QomAttr::from_meta(&attr.meta)) {
                attrs = parsed;
            }
        }

        let (shape, raw_fields): (Shape, Vec<&syn::Field>) = match &input.data {
            syn::Data::Struct(s) => match &s.fields {
                syn::Fields::Named(named) => (Shape::Named, named.named.iter().collect()),
                syn::Fields::Unnamed(f) => (Shape::Other("a tuple struct", f.span()), vec![]),
                syn::Fields::Unit => (Shape::Other("a unit struct", input.ident.span()), vec![]),
            },
            syn::Data::Enum(e) => (Shape::Other("an enum", e.enum_token.span), vec![]),
            syn::Data::Union(u) => (Shape::Other("a union", u.union_token.span), vec![]),
        };

        let migrate_attrs: Vec<&syn::Attribute> = input
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("migrate"))
            .collect();
        let migrate = migrate_attrs
            .first()
            .and_then(|attr| errors.handle(parse_migrate::<MigrateTypeAttr>(attr)));

        let mut fields = Vec::new();
        for field in raw_fields {
            if let Some(f) = Field::parse(field, errors) {
                fields.push(f);
            }
        }
        Input {
            original: input,
            attrs,
            fields,
            shape,
            migrate_attrs,
            migrate,
        }
    }
}

impl<'a> Field<'a> {
    fn parse(field: &'a syn::Field, errors: &mut darling::error::Accumulator) -> Option<Field<'a>> {
        let ident = field.ident.as_ref()?;
        let mut child: Option<(ChildAttr, &syn::Attribute)> = None;
        let mut property: Option<PropertyAttr> = None;
        let mut role_attrs = Vec::new();
        for attr in &field.attrs {
            if attr.path().is_ident("child") {
                role_attrs.push(attr);
                if let Some(parsed) = errors.handle(ChildAttr::from_meta(&attr.meta)) {
                    child = Some((parsed, attr));
                }
            } else if attr.path().is_ident("property") {
                role_attrs.push(attr);
                let parsed = match &attr.meta {
                    // `#[property]` alone takes every default.
                    syn::Meta::Path(_) => Ok(PropertyAttr::default()),
                    meta => PropertyAttr::from_meta(meta),
                };
                if let Some(parsed) = errors.handle(parsed) {
                    property = Some(parsed);
                }
            }
        }
        let migrate_attrs: Vec<&syn::Attribute> = field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("migrate"))
            .collect();
        let migrate = migrate_attrs
            .first()
            .and_then(|attr| errors.handle(parse_migrate::<MigrateFieldAttr>(attr)));
        let role = if let Some(parent) = parent_field_argument(&field.ty) {
            Role::Parent(parent)
        } else if let Some(p) = property {
            Role::Property(p)
        } else {
            match &child {
                Some((c, _)) if c.owned.is_present() && !c.embedded.is_present() => Role::Owned,
                Some((c, _)) if c.embedded.is_present() => Role::Embedded,
                // `#[child()]` with no key: reported by `check`.
                Some(_) => Role::Embedded,
                // A `#[child]` that did not parse: its error is reported;
                // treat the field as a child so no follow-on error appears.
                None if role_attrs.iter().any(|a| a.path().is_ident("child")) => Role::Embedded,
                None => Role::Plain,
            }
        };
        Some(Field {
            original: field,
            ident,
            ty: &field.ty,
            role,
            role_attrs,
            child,
            migrate_attrs,
            migrate,
        })
    }
}

/// `P` if `ty` is spelt `ParentField<P>` (with any path prefix).
pub fn parent_field_argument(ty: &syn::Type) -> Option<syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "ParentField" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// `CamelCase` -> `camel-case`, the default QOM type name.
pub fn kebab_case(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        } else if c == '_' {
            out.push('-');
        } else {
            out.push(c);
        }
    }
    out
}

impl Input<'_> {
    /// The QOM type name.
    pub fn type_name(&self) -> String {
        match &self.attrs.name {
            Some(name) => name.as_ref().clone(),
            None => kebab_case(&self.original.ident.to_string()),
        }
    }

    /// Whether the type has migrated state: a `#[migrate]` on the type or
    /// on a field.
    pub fn migrates(&self) -> bool {
        !self.migrate_attrs.is_empty() || self.fields.iter().any(|f| !f.migrate_attrs.is_empty())
    }

    /// The version of the type's migrated state and the oldest it loads
    /// (1 and 1 unless given).
    pub fn migration_versions(&self) -> (u32, u32) {
        let attr = self.migrate.as_ref();
        let version = attr.and_then(|a| a.version.as_ref()).map_or(1, |v| **v);
        let min = attr.and_then(|a| a.min_version.as_ref()).map_or(1, |v| **v);
        (version, min)
    }

    /// The parent type, from the `ParentField<P>` field.
    pub fn parent(&self) -> Option<(&Field<'_>, &syn::Type)> {
        self.fields.iter().find_map(|f| match &f.role {
            Role::Parent(p) => Some((f, p)),
            _ => None,
        })
    }
}

impl Field<'_> {
    /// The version that added a `#[migrate]` field (1 unless given).
    pub fn migrate_since(&self) -> u32 {
        self.migrate
            .as_ref()
            .and_then(|m| m.since.as_ref())
            .map_or(1, |v| **v)
    }

    /// A child's name in the tree: `#[child(name = "...")]`, or the field
    /// name.
    pub fn child_name(&self) -> Option<String> {
        if !self.role.is_child() {
            return None;
        }
        let named = self.child.as_ref().and_then(|(c, _)| c.name.as_ref());
        Some(match named {
            Some(n) => n.as_ref().clone(),
            None => self.ident.to_string().trim_start_matches("r#").to_string(),
        })
    }

    /// The property name (`num_ports` -> `num-ports` unless renamed).
    pub fn property_name(&self) -> Option<String> {
        match &self.role {
            Role::Property(p) => Some(match &p.name {
                Some(n) => n.as_ref().clone(),
                None => self
                    .ident
                    .to_string()
                    .trim_start_matches("r#")
                    .replace('_', "-"),
            }),
            _ => None,
        }
    }
}

//! Cross-field rules, each with a comment saying the rule. Type-level rules
//! (is this field type an object? thread safe?) are not checked here: the
//! expansion emits trait bounds with `#[diagnostic::on_unimplemented]`
//! messages for those, so the compiler checks them against real types.

use crate::ast::{Input, Role, Shape};
use syn::spanned::Spanned;

type Errors = darling::error::Accumulator;

fn error(span: &impl Spanned, message: impl std::fmt::Display) -> darling::Error {
    darling::Error::custom(message).with_span(&span.span())
}

/// Runs every rule; all failures are reported together.
pub fn validate(input: &Input<'_>) -> darling::Result<()> {
    let mut errors = darling::Error::accumulator();
    shape(input, &mut errors);
    generics(input, &mut errors);
    layout(input, &mut errors);
    parent_field(input, &mut errors);
    type_name(input, &mut errors);
    child_keys(input, &mut errors);
    child_names(input, &mut errors);
    embedded_types(input, &mut errors);
    owned_types(input, &mut errors);
    plain_owned(input, &mut errors);
    property_types(input, &mut errors);
    link_defaults(input, &mut errors);
    unique_names(input, &mut errors);
    migrate_versions(input, &mut errors);
    migrate_fields(input, &mut errors);
    errors.finish()
}

/// Objects are structs with named fields: the derive needs field names for
/// children (`xhci`, `msix_bars[1]`) and a first field for the parent.
fn shape(input: &Input<'_>, errors: &mut Errors) {
    if let Shape::Other(what, span) = &input.shape {
        errors.push(
            darling::Error::custom(format!(
                "`#[derive(QomObject)]` cannot be used on {what}; an object type is a struct with named fields, starting with `parent: ParentField<P>`"
            ))
            .with_span(span),
        );
    }
}

/// A QOM type is one registered type with one name and one layout; a
/// generic struct would be a family of them.
fn generics(input: &Input<'_>, errors: &mut Errors) {
    let generics = &input.original.generics;
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        errors.push(error(
            generics,
            "object types cannot be generic: each QOM type has one name and one layout; write a separate struct per type",
        ));
    }
}

/// The runtime reads headers and fields through references, which must be
/// aligned: a `#[repr(packed)]` object would put them at any address.
/// (`repr(C)` and `repr(align(N))` are fine.)
fn layout(input: &Input<'_>, errors: &mut Errors) {
    for attr in input
        .original
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("repr"))
    {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("packed") {
                errors.push(error(
                    &meta.path,
                    "QOM objects cannot be `#[repr(packed)]`: the object header and the fields are read through references, which must be aligned; remove `packed` (`#[repr(C)]` or `#[repr(align(N))]` are fine)",
                ));
            }
            // Skip `(N)` after `packed` or `align`; other arguments are
            // rustc's to check.
            if meta.input.peek(syn::token::Paren) {
                let _ = meta.input.parse::<proc_macro2::Group>();
            }
            Ok(())
        });
    }
}

/// Single inheritance: exactly one `ParentField<P>`, and it comes first
/// (where QOM's C structs put it), so a reader finds the parent at once.
fn parent_field(input: &Input<'_>, errors: &mut Errors) {
    if !matches!(input.shape, Shape::Named) {
        return;
    }
    let parents: Vec<_> = input
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.role, Role::Parent(_)))
        .collect();
    match parents.as_slice() {
        [] => errors.push(error(
            &input.original.ident,
            "missing parent field: the first field of an object type must be `parent: ParentField<P>` (use `ParentField<Object>` for a direct subtype of `object`)",
        )),
        [(0, _)] => {}
        [(_, field)] => errors.push(error(
            field.ident,
            format!(
                "`ParentField` must be the first field of an object type; move `{}` to the top",
                field.ident
            ),
        )),
        [_, rest @ ..] => {
            for (_, field) in rest {
                let parent = match &field.role {
                    Role::Parent(p) => type_text(p),
                    _ => continue,
                };
                // The whole field is what changes: spanned on its first token.
                errors.push(error(
                    field.original,
                    format!(
                        "an object type has exactly one `ParentField` (single inheritance); to contain a `{parent}` as well, make it a child: `#[child(embedded)] {}: {parent}`",
                        field.ident
                    ),
                ));
            }
        }
    }
    for field in &input.fields {
        if matches!(field.role, Role::Parent(_)) {
            for attr in &field.role_attrs {
                errors.push(error(
                    attr,
                    "the parent field takes no `#[child]` or `#[property]` attribute: the parent is embedded by `ParentField` itself",
                ));
            }
        }
    }
}

/// QOM type names use letters, digits, `-`, `_`, `.` and `,` (QEMU's own
/// names: `xhci-pci`, `cortex-a15-arm-cpu`, `virt-9.0`).
fn type_name(input: &Input<'_>, errors: &mut Errors) {
    let Some(name) = &input.attrs.name else {
        return;
    };
    let text = name.as_ref();
    let bad = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ',')));
    if text.is_empty() {
        errors.push(darling::Error::custom("the QOM type name is empty").with_span(&name.span()));
    } else if let Some(c) = bad {
        errors.push(
            darling::Error::custom(format!(
                "invalid QOM type name `{text}`: {c:?} is not allowed; use letters, digits, `-`, `_`, `.` and `,`"
            ))
            .with_span(&name.span()),
        );
    }
}

/// A field is either embedded or owned, never both, and `#[child]` must say
/// which; a child is not also a property.
fn child_keys(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        let children: Vec<_> = field
            .role_attrs
            .iter()
            .filter(|a| a.path().is_ident("child"))
            .collect();
        let properties = field.role_attrs.len() - children.len();
        if let Some((child, attr)) = &field.child {
            let (embedded, owned) = (child.embedded.is_present(), child.owned.is_present());
            if embedded && owned {
                errors.push(error(
                    &child.owned.span(),
                    "conflicting keys `embedded` and `owned`: a child is either stored in the container (`#[child(embedded)]`) or held by an `Owned<T>` (`#[child(owned)]`)",
                ));
            } else if !embedded && !owned {
                errors.push(error(
                    attr,
                    "say how the child is held: `#[child(embedded)]` (in the container's memory) or `#[child(owned)]` (an `Owned<T>`)",
                ));
            }
        }
        if children.len() > 1 {
            errors.push(error(children[1], "duplicate `#[child]` attribute"));
        }
        if properties > 1 {
            let second = field
                .role_attrs
                .iter()
                .filter(|a| a.path().is_ident("property"))
                .nth(1);
            if let Some(attr) = second {
                errors.push(error(attr, "duplicate `#[property]` attribute"));
            }
        }
        if !children.is_empty() && properties > 0 {
            errors.push(error(
                field.ident,
                format!(
                    "`{}` is marked both `#[child]` and `#[property]`: a field is either a child (an object) or a property (a `Prop<T>` or `Link<T>`), not both",
                    field.ident
                ),
            ));
        }
    }
}

/// `#[child(name = "...")]` must be a name the tree accepts (the runtime's
/// `check_child_name` rules): not empty, no `/`, not `.` or `..`, no white
/// space or control characters.
fn child_names(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        let Some(name) = field.child.as_ref().and_then(|(c, _)| c.name.as_ref()) else {
            continue;
        };
        let text = name.as_str();
        let reason = if text.is_empty() {
            "it is empty"
        } else if text.contains('/') {
            "it contains `/`, which separates path components"
        } else if text == "." || text == ".." {
            "`.` and `..` are reserved for paths"
        } else if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            "it contains white space or control characters"
        } else {
            continue;
        };
        errors.push(error(
            &name.span(),
            format!("invalid child name `{text}`: {reason}; write a name such as `xhci-core`, or leave `name` out to use the field name `{}`", field.ident),
        ));
    }
}

/// Children and properties share one namespace per object (`qom-list`
/// shows both), so no two may have the same name. The error points at the
/// second use: the `name = "..."` that repeats it, or the field.
fn unique_names(input: &Input<'_>, errors: &mut Errors) {
    let mut seen: Vec<(String, &syn::Ident)> = Vec::new();
    for field in &input.fields {
        let (name, span) = if field.role.is_child() {
            let named = field.child.as_ref().and_then(|(c, _)| c.name.as_ref());
            let span = named.map_or(field.ident.span(), |n| n.span());
            (field.child_name().unwrap_or_default(), span)
        } else if let Role::Property(p) = &field.role {
            let span = p.name.as_ref().map_or(field.ident.span(), |n| n.span());
            match field.property_name() {
                Some(name) => (name, span),
                None => continue,
            }
        } else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            errors.push(
                darling::Error::custom(format!(
                    "duplicate child or property name `{name}`: field `{first}` already uses it (children and properties share one namespace); rename one with `#[property(name = \"...\")]` or `#[child(name = \"...\")]`"
                ))
                .with_span(&span),
            );
        } else {
            seen.push((name, field.ident));
        }
    }
}

/// How a field type is spelt, as far as the rules below care: they look at
/// the written type only (as the derive does for `ParentField`), so each
/// catches a mistake that is certain from the spelling alone and leaves the
/// rest to the trait bounds the expansion emits.
enum Spelling<'t> {
    /// `Owned<T>`, `Box<T>`, `Arc<T>`, `Rc<T>`, `Weak<T>` (last path
    /// segment), with `T`.
    Pointer(&'static str, &'t syn::Type),
    /// `&T`, `&mut T`, `*const T`, `*mut T`.
    Reference,
    /// A primitive, `String`, `str`, a tuple, slice, function pointer or
    /// trait object: never an object, an `Owned` or a `Prop`.
    NotAnObject,
    /// `Prop<T>` or `Link<T>`.
    Property,
    /// `[T; N]`, with `T`.
    Array(&'t syn::Type),
    /// A path with no generic arguments (`Uhci`, `crate::hw::Uhci`).
    Name,
    /// Anything else.
    Other,
}

const POINTERS: [&str; 5] = ["Owned", "Box", "Arc", "Rc", "Weak"];
const PRIMITIVES: [&str; 18] = [
    "bool", "char", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128",
    "isize", "f32", "f64", "String", "str",
];

fn spelling(ty: &syn::Type) -> Spelling<'_> {
    match ty {
        syn::Type::Paren(p) => spelling(&p.elem),
        syn::Type::Group(g) => spelling(&g.elem),
        syn::Type::Reference(_) | syn::Type::Ptr(_) => Spelling::Reference,
        syn::Type::Array(a) => Spelling::Array(&a.elem),
        syn::Type::Tuple(_)
        | syn::Type::Slice(_)
        | syn::Type::FnPtr(_)
        | syn::Type::TraitObject(_)
        | syn::Type::ImplTrait(_)
        | syn::Type::Never(_) => Spelling::NotAnObject,
        syn::Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return Spelling::Other;
            };
            let ident = last.ident.to_string();
            let first_type = match &last.arguments {
                syn::PathArguments::AngleBracketed(args) => {
                    args.args.iter().find_map(|a| match a {
                        syn::GenericArgument::Type(t) => Some(t),
                        _ => None,
                    })
                }
                _ => None,
            };
            match (ident.as_str(), first_type) {
                (_, None) if PRIMITIVES.contains(&ident.as_str()) => Spelling::NotAnObject,
                ("Prop" | "Link", Some(_)) => Spelling::Property,
                (name, Some(inner)) => match POINTERS.iter().find(|p| **p == name) {
                    Some(pointer) => Spelling::Pointer(pointer, inner),
                    None => Spelling::Other,
                },
                (_, None) if last.arguments.is_none() => Spelling::Name,
                _ => Spelling::Other,
            }
        }
        _ => Spelling::Other,
    }
}

/// A type as the user would write it: `Owned<Uhci>`, not `Owned < Uhci >`.
fn type_text(ty: &syn::Type) -> String {
    let mut text = quote::quote!(#ty).to_string();
    for (spaced, tight) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (" ;", ";"),
        ("[ ", "["),
        (" ]", "]"),
        ("& ", "&"),
    ] {
        text = text.replace(spaced, tight);
    }
    text
}

/// `#[child(embedded)]` stores the child object itself in the container's
/// allocation: a pointer (`Owned<T>`, `Box<T>`, ...), a reference or a
/// primitive there is a mistake, whatever the pointee.
fn embedded_types(input: &Input<'_>, errors: &mut Errors) {
    for field in input
        .fields
        .iter()
        .filter(|f| matches!(f.role, Role::Embedded))
    {
        let name = field.ident;
        let (ty, array) = match spelling(field.ty) {
            Spelling::Array(elem) => (elem, true),
            _ => (field.ty, false),
        };
        let written = type_text(ty);
        let message = match spelling(ty) {
            Spelling::Pointer("Owned", inner) => {
                let inner = type_text(inner);
                let embedded = if array {
                    format!("[{inner}; N]")
                } else {
                    inner.clone()
                };
                format!(
                    "`#[child(embedded)]` stores the child itself, but `{written}` is a reference to a child in its own allocation; write `#[child(embedded)] {name}: {embedded}` to store the `{inner}` inside the container, or `#[child(owned)] {name}: Owned<{inner}>` to keep the reference"
                )
            }
            Spelling::Pointer(_, inner) => {
                let inner = type_text(inner);
                format!(
                    "`#[child(embedded)]` stores the child itself, but `{written}` is a pointer; write `#[child(embedded)] {name}: {inner}` to store the child inside the container, or `#[child(owned)] {name}: Owned<{inner}>` to hold it in its own allocation"
                )
            }
            Spelling::Reference => format!(
                "`#[child(embedded)]` stores the child itself, but `{written}` is a reference; write the object type itself, or hold a reference to an object that lives elsewhere with `#[property] {name}: Link<T>`"
            ),
            Spelling::NotAnObject => format!(
                "`{written}` is not a QOM object type, so it cannot be embedded; remove `#[child(embedded)]` to make `{name}` a plain field"
            ),
            _ => continue,
        };
        errors.push(error(ty, message));
    }
}

/// `#[child(owned)]` holds the child through QOM's own strong reference,
/// spelt `Owned<T>` (as the parent is spelt `ParentField<P>`): the
/// container creates the child and links it into the composition tree.
fn owned_types(input: &Input<'_>, errors: &mut Errors) {
    for field in input
        .fields
        .iter()
        .filter(|f| matches!(f.role, Role::Owned))
    {
        let name = field.ident;
        let written = type_text(field.ty);
        let message = match spelling(field.ty) {
            Spelling::Pointer("Owned", _) => continue,
            Spelling::Pointer(_, inner) => {
                let inner = type_text(inner);
                format!(
                    "`#[child(owned)]` holds the child through an `Owned<T>`, QOM's strong reference; `{written}` cannot hold a QOM object (its reference count lives in the object's header); write `#[child(owned)] {name}: Owned<{inner}>`"
                )
            }
            Spelling::Name => format!(
                "`#[child(owned)]` holds the child through an `Owned<T>`, but `{name}` is a `{written}`; write `#[child(owned)] {name}: Owned<{written}>` for a child in its own allocation, or `#[child(embedded)] {name}: {written}` to store it inside the container"
            ),
            Spelling::Array(elem) => format!(
                "`#[child(owned)]` holds one child through an `Owned<T>`; for an array of children write `#[child(embedded)] {name}: [{}; N]`, or declare one `#[child(owned)]` field per child",
                type_text(elem)
            ),
            Spelling::Reference => format!(
                "`#[child(owned)]` holds the child through an `Owned<T>`, not a reference; write `#[child(owned)] {name}: Owned<T>`, or `#[property] {name}: Link<T>` for a reference to an object that lives elsewhere"
            ),
            Spelling::NotAnObject => format!(
                "`{written}` is not a QOM object type; remove `#[child(owned)]` to make `{name}` a plain field"
            ),
            Spelling::Property | Spelling::Other => continue,
        };
        errors.push(error(field.ty, message));
    }
}

/// An `Owned<T>` field is a child the container creates, so it must say so:
/// a plain field would be built with `Default`, which `Owned` does not
/// have on purpose.
fn plain_owned(input: &Input<'_>, errors: &mut Errors) {
    for field in input
        .fields
        .iter()
        .filter(|f| matches!(f.role, Role::Plain))
    {
        if let Spelling::Pointer("Owned", inner) = spelling(field.ty) {
            let name = field.ident;
            let inner = type_text(inner);
            errors.push(error(
                field.ty,
                format!(
                    "an `Owned` field is a child: mark it `#[child(owned)]` so the container creates the `{inner}` and links it into the tree; for a reference to an object that lives elsewhere, write `#[property] {name}: Link<{inner}>`"
                ),
            ));
        }
    }
}

/// A property lives in a `Prop<T>` (or is a `Link<T>`): a bare value type
/// there is a mistake.
fn property_types(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        if !matches!(field.role, Role::Property(_)) {
            continue;
        }
        if let Spelling::NotAnObject = spelling(field.ty) {
            let written = type_text(field.ty);
            errors.push(error(
                field.ty,
                format!(
                    "`#[property]` needs a `Prop<T>` field: write `{}: Prop<{written}>` (a thread-safe cell; read it with `.get()`, set it with `.set(value)`)",
                    field.ident
                ),
            ));
        }
    }
}

/// A `Link<T>` starts unset: its target is another object, which does not
/// exist when the type's defaults are built.
fn link_defaults(input: &Input<'_>, errors: &mut Errors) {
    for field in &input.fields {
        let Role::Property(p) = &field.role else {
            continue;
        };
        let (Some(default), syn::Type::Path(path)) = (&p.default, field.ty) else {
            continue;
        };
        if path.path.segments.last().is_some_and(|s| s.ident == "Link") {
            let name = field.property_name().unwrap_or_default();
            errors.push(error(
                default,
                format!(
                    "a `Link` takes no default: it starts unset, and is set once its target exists, with `self.{}.set(&target)` or `set_property(\"{name}\", \"/path/to/target\")`",
                    field.ident
                ),
            ));
        }
    }
}

/// A type's migrated state is versioned from 1, and loads no version newer
/// than its own; one `#[migrate]` on the type says so.
fn migrate_versions(input: &Input<'_>, errors: &mut Errors) {
    for attr in input.migrate_attrs.iter().skip(1) {
        errors.push(error(
            attr,
            "duplicate `#[migrate]` attribute on the type; merge the keys into one",
        ));
    }
    let Some(attr) = &input.migrate else {
        return;
    };
    let (version, min) = input.migration_versions();
    if let Some(v) = attr.version.as_ref().filter(|v| ***v == 0) {
        errors.push(
            darling::Error::custom(
                "the version of a type's migrated state starts at 1 (0 stands for a stream without it)",
            )
            .with_span(&v.span()),
        );
    }
    if let Some(m) = attr.min_version.as_ref().filter(|_| min > version) {
        errors.push(
            darling::Error::custom(format!(
                "`min_version = {min}` is above `version = {version}`: a type cannot load a version newer than its own"
            ))
            .with_span(&m.span()),
        );
    }
}

/// `#[migrate]` marks the object's own state: a plain field or a property.
/// Children migrate as sections of their own and the parent as its own
/// level, so neither takes it; a field is added at a version the type
/// has reached.
fn migrate_fields(input: &Input<'_>, errors: &mut Errors) {
    let (version, _) = input.migration_versions();
    for field in &input.fields {
        let Some(attr) = field.migrate_attrs.first() else {
            continue;
        };
        for duplicate in field.migrate_attrs.iter().skip(1) {
            errors.push(error(duplicate, "duplicate `#[migrate]` attribute"));
        }
        let name = field.ident;
        match field.role {
            Role::Parent(_) => errors.push(error(
                attr,
                "the parent field takes no `#[migrate]`: the parent type's own `#[migrate]` fields migrate as its level of the object",
            )),
            Role::Embedded | Role::Owned => errors.push(error(
                attr,
                format!(
                    "`{name}` is a child: it migrates as a section of its own, keyed by its path (`.../{name}`); remove `#[migrate]` here and mark the child's own fields"
                ),
            )),
            Role::Plain | Role::Property(_) => {}
        }
        let Some(since) = field.migrate.as_ref().and_then(|m| m.since.as_ref()) else {
            continue;
        };
        if **since == 0 {
            errors.push(
                darling::Error::custom(
                    "versions start at 1: a field of the first version needs no `since`",
                )
                .with_span(&since.span()),
            );
        } else if **since > version {
            errors.push(
                darling::Error::custom(format!(
                    "`{name}` is added in version {}, but the type's state is at version {version}; write `#[migrate(version = {})]` on the type",
                    **since, **since
                ))
                .with_span(&since.span()),
            );
        }
    }
}

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
    parent_field(input, &mut errors);
    type_name(input, &mut errors);
    child_keys(input, &mut errors);
    unique_names(input, &mut errors);
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
            field.original,
            "`ParentField` must be the first field of an object type; move it to the top",
        )),
        [_, rest @ ..] => {
            for (_, field) in rest {
                errors.push(error(
                    field.original,
                    "an object type has exactly one `ParentField` (single inheritance); remove this one",
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
            errors.push(error(field.original, "duplicate `#[property]` attribute"));
        }
        if !children.is_empty() && properties > 0 {
            errors.push(error(
                field.original,
                "a field is either a child or a property, not both",
            ));
        }
    }
}

/// Children and properties share one namespace per object (`qom-list`
/// shows both), so no two may have the same name.
fn unique_names(input: &Input<'_>, errors: &mut Errors) {
    let mut seen: Vec<(String, &syn::Field)> = Vec::new();
    for field in &input.fields {
        let name = if field.role.is_child() {
            field.ident.to_string()
        } else if let Some(name) = field.property_name() {
            name
        } else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            errors.push(error(
                field.original,
                format!(
                    "two children or properties are named `{name}` (the other is field `{}`); rename one with `#[property(name = \"...\")]`",
                    first.ident.as_ref().map(|i| i.to_string()).unwrap_or_default()
                ),
            ));
        } else {
            seen.push((name, field.original));
        }
    }
}

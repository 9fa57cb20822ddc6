//! The runtime's error type: every fallible operation returns [`Error`],
//! whose message names what was asked for and what would have worked.

/// Errors from type lookup, the composition tree and properties.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No type is registered under this name.
    #[error("unknown type `{name}`{}", did_you_mean(suggestions))]
    UnknownType {
        /// The name asked for.
        name: String,
        /// Registered names close to it.
        suggestions: Vec<String>,
    },
    /// The type is abstract.
    #[error(
        "type `{name}` is abstract and cannot be instantiated; create one of its concrete subtypes"
    )]
    AbstractType {
        /// The type name.
        name: String,
    },
    /// Two Rust types registered the same QOM name.
    #[error("type name `{name}` is registered by more than one Rust type: {}", rust_types.join(", "))]
    DuplicateType {
        /// The QOM name.
        name: String,
        /// Every Rust type that registered it.
        rust_types: Vec<String>,
    },
    /// A path does not lead to an object.
    #[error("no object at path `{path}`{}", match missing { Some(m) => format!(": `{m}` has no child with that name"), None => String::new() })]
    PathNotFound {
        /// The path asked for.
        path: String,
        /// The deepest object that was found, if any.
        missing: Option<String>,
    },
    /// A walk cannot go on: an object has no parent for `..`, or the
    /// next object is no longer live (it, or the container it is declared
    /// in, has begun finalizing).
    #[error("no object at path `{path}`: {reason}")]
    PathUnreachable {
        /// The path asked for.
        path: String,
        /// Why the walk stopped, naming the object where it did.
        reason: String,
    },
    /// A partial path matches more than one object.
    #[error("path `{path}` is ambiguous; it matches {}", candidates.join(", "))]
    AmbiguousPath {
        /// The partial path.
        path: String,
        /// Canonical paths of every match.
        candidates: Vec<String>,
    },
    /// A child name is already taken under that parent.
    #[error("`{parent}` already has a child named `{name}`")]
    DuplicateChild {
        /// Path (or type) of the parent.
        parent: String,
        /// The name.
        name: String,
    },
    /// A child name is not usable in a path.
    #[error("invalid child name `{name}`: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The object already has a parent in the composition tree.
    #[error("object `{object}` already has a parent (at `{path}`); unparent it first")]
    AlreadyParented {
        /// Type of the object.
        object: String,
        /// Where it is.
        path: String,
    },
    /// Adding the child would make an object its own ancestor.
    #[error("cannot add `{name}`: the object is `{parent}` or one of its ancestors")]
    Cycle {
        /// The parent.
        parent: String,
        /// The child name.
        name: String,
    },
    /// No property of that name.
    #[error("`{object}` has no property `{property}`{}", did_you_mean(suggestions))]
    UnknownProperty {
        /// Path or type of the object.
        object: String,
        /// The name asked for.
        property: String,
        /// Property names close to it.
        suggestions: Vec<String>,
    },
    /// A property value was rejected; the object is unchanged.
    #[error("`{object}`: property `{property}` does not accept `{value}`: expected {expected}")]
    InvalidValue {
        /// Path or type of the object.
        object: String,
        /// The property.
        property: String,
        /// The rejected value.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The property cannot be set now (e.g. after realize).
    #[error("`{object}`: property `{property}` cannot be set: {reason}")]
    PropertyLocked {
        /// Path or type of the object.
        object: String,
        /// The property.
        property: String,
        /// Why.
        reason: String,
    },
    /// The property is computed from the object and cannot be set
    /// ([`ComputedProperties`](crate::ComputedProperties)).
    #[error("`{object}`: property `{property}` is read-only")]
    ReadOnlyProperty {
        /// Path or type of the object.
        object: String,
        /// The property.
        property: String,
    },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => format!(
            "; did you mean one of {}?",
            many.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Migration: the state of device models described at compile time,
//! saved as a self-describing stream and loaded all or nothing.
//!
//! * A field marked `#[migrate]` in a `#[derive(QomObject)]` struct is
//!   saved and restored through [`MigrateField`] (a lock, an atomic, a
//!   `Prop`, or a type of yours); the values inside implement
//!   [`VmState`] (integers, `bool`, arrays, `Option`, structs with
//!   `#[derive(VmState)]`). The derive generates a versioned
//!   [`StateDescription`] per type: `#[migrate(version = N, min_version =
//!   M)]` on the type, `#[migrate(since = N)]` on a field added later,
//!   `#[migrate(needed = path)]` on a subsection, and the type's
//!   [`MigrationHooks`] (`pre_save`, `post_load`).
//! * A stream ([`save`]) has one section per object with migrated state,
//!   keyed by its canonical path, type name and the version of each of its
//!   levels; children are sections of their own. See [`StreamImage`] and
//!   the book's migration chapter for the byte layout.
//! * [`load`] refuses a truncated, corrupted, reordered or foreign stream,
//!   one for another machine shape, a version this build does not load or
//!   a value a field cannot take, before it changes anything; then it
//!   applies every section and runs the `post_load` hooks.
//!
//! This module sits above the runtime's kernel: it reads objects through
//! the composition tree and their fields through the generated code, and
//! the kernel knows nothing of it.

pub(crate) mod describe;
mod error;
mod field;
mod hooks;
mod snapshot;
mod stream;
pub(crate) mod support;
mod value;
mod wire;

pub use describe::{description, levels, StateDescription};
pub use error::MigrationError;
pub use field::MigrateField;
pub use hooks::MigrationHooks;
pub use snapshot::{load, load_image, save, save_image, LoadSummary};
pub use stream::{SectionImage, StreamImage, FORMAT_VERSION, MAGIC};
pub use support::LevelImage;
pub use value::{
    FieldDescription, LoadContext, StructDescription, Tag, Value, ValueError, ValueKind, VmState,
};

/// Derives [`VmState`] for a struct with named fields: every field in
/// declaration order, `#[migrate(since = N)]` on one added in version N
/// of the enclosing object's state (with `default = expr` for the value
/// an older stream gives it, else its type's `Default`), and
/// `#[migrate(check = path)]` on the struct for a function
/// `fn(&mut Self, version: u32) -> Result<(), String>` that validates
/// (and may normalise) a decoded value before anything is applied.
pub use qom_derive::VmState;

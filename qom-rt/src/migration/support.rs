//! What the code generated for `#[migrate]` and `#[derive(VmState)]` calls:
//! writing a level's fields, reading them back by name with their
//! versions, and the erased operations a [`StateDescription`] holds. Not
//! a public API (reached through `qom_rt::__private::migration`).
//!
//! [`StateDescription`]: super::StateDescription

use super::field::MigrateField;
use super::hooks::MigrationHooks;
use super::value::{LoadContext, Value, ValueError, VmState};
use crate::cast::ObjectCast;
use crate::kernel::object::Object;
use core::any::Any;

/// One level of an object as the stream carries it: parsed and
/// checksummed, not yet checked against a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelImage {
    /// The QOM type whose own fields these are.
    pub type_name: String,
    /// The version they were saved at.
    pub version: u32,
    /// The fields that are always sent, in declaration order.
    pub fields: Vec<(String, Value)>,
    /// The subsections that were needed at save time, in declaration
    /// order.
    pub subsections: Vec<(String, Value)>,
}

/// A level's decoded fields, waiting to be applied: one entry per
/// `#[migrate]` field in declaration order, `None` where the stream had
/// no value for it. Erased, so that the generated code names each field's
/// type only where it is spanned on the field.
#[derive(Default)]
pub struct Staged(Vec<Option<Box<dyn Any>>>);

impl Staged {
    /// Adds the next field's decoded value.
    pub fn push<T: 'static>(&mut self, value: Option<T>) {
        self.0.push(value.map(|v| Box::new(v) as Box<dyn Any>));
    }

    /// Takes field `index`'s value back, as the type it was pushed with.
    pub fn take<T: 'static>(&mut self, index: usize) -> Option<T> {
        let value = self.0.get_mut(index)?.take()?;
        value.downcast().ok().map(|v| *v)
    }
}

/// A type's own migrated fields, as the derive generates them: written,
/// decoded into [`Staged`] and restored. The hooks come from
/// [`MigrationHooks`], which this requires, so a type with migrated state
/// cannot forget to say what its hooks are.
pub trait MigratedLevel: MigrationHooks {
    /// Writes every field (and every needed subsection).
    fn save_fields(&self, out: &mut LevelWriter);
    /// Decodes and checks every field; changes nothing.
    fn decode_fields(&self, reader: &mut LevelReader<'_>) -> Result<Staged, ValueError>;
    /// Restores the decoded fields.
    fn apply_fields(&self, staged: Staged);
}

/// The operations of one level, generated with its description.
#[derive(Clone, Copy)]
pub struct LevelOps {
    /// Runs `pre_save` and writes the fields.
    pub save: fn(&Object, &mut LevelWriter),
    /// Decodes and checks every field against the object (read only).
    pub decode: fn(&Object, &mut LevelReader<'_>) -> Result<Staged, ValueError>,
    /// Restores the decoded fields.
    pub apply: fn(&Object, Staged),
    /// Runs `post_load` with the version loaded (0: the stream had no
    /// state for this level).
    pub post_load: fn(&Object, u32),
}

impl LevelOps {
    /// The operations of `T`'s level, on objects of `T` or a subtype.
    pub const fn of<T: MigratedLevel>() -> LevelOps {
        LevelOps {
            save: save_level::<T>,
            decode: decode_level::<T>,
            apply: apply_level::<T>,
            post_load: post_load_level::<T>,
        }
    }
}

// The registry only hands an object to the operations of a level of its
// own type's lineage, so each downcast below holds; failing one would do
// nothing rather than panic.

fn save_level<T: MigratedLevel>(object: &Object, out: &mut LevelWriter) {
    if let Some(this) = object.downcast::<T>() {
        this.pre_save();
        this.save_fields(out);
    }
}

fn decode_level<T: MigratedLevel>(
    object: &Object,
    reader: &mut LevelReader<'_>,
) -> Result<Staged, ValueError> {
    let this = object
        .downcast::<T>()
        .ok_or_else(|| ValueError::new(format!("the object is not a {}", T::TYPE_INFO.name())))?;
    this.decode_fields(reader)
}

fn apply_level<T: MigratedLevel>(object: &Object, staged: Staged) {
    if let Some(this) = object.downcast::<T>() {
        this.apply_fields(staged);
    }
}

fn post_load_level<T: MigratedLevel>(object: &Object, version: u32) {
    if let Some(this) = object.downcast::<T>() {
        this.post_load(version);
    }
}

/// A struct's value from its fields (for the generated `to_value`).
pub fn struct_value<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Struct(
        fields
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    )
}

/// Collects a level's fields as it is saved.
#[derive(Debug, Default)]
pub struct LevelWriter {
    pub(super) fields: Vec<(String, Value)>,
    pub(super) subsections: Vec<(String, Value)>,
}

impl LevelWriter {
    /// A field that is always sent.
    pub fn field(&mut self, name: &str, value: Value) {
        self.fields.push((name.to_string(), value));
    }

    /// A subsection, sent because its `needed` predicate held.
    pub fn subsection(&mut self, name: &str, value: Value) {
        self.subsections.push((name.to_string(), value));
    }
}

/// Named values read in declaration order: every field a version has must
/// come next, with its name, and none may be left over, so a stream that
/// lost, gained, renamed or reordered a field is refused rather than
/// misread.
struct Cursor<'a> {
    values: &'a [(String, Value)],
    next: usize,
}

impl<'a> Cursor<'a> {
    /// The value of `name` if it comes next.
    fn take(&mut self, name: &str) -> Option<&'a Value> {
        let (found, value) = self.values.get(self.next)?;
        (found == name).then(|| {
            self.next += 1;
            value
        })
    }

    /// The name found where `name` was expected, for the message.
    fn found_instead(&self, what: &str, name: &str) -> ValueError {
        match self.values.get(self.next) {
            Some((found, _)) => ValueError::new(format!(
                "expected {what} `{name}`, the stream has `{found}` there"
            )),
            None => ValueError::new(format!("the stream has no {what} `{name}`")),
        }
    }

    /// An error if anything is left.
    fn finish(&self, what: &str) -> Result<(), ValueError> {
        match self.values.get(self.next) {
            Some((name, _)) => Err(ValueError::new(format!(
                "the stream has an unexpected {what} `{name}` (unknown here, repeated or out of order)"
            ))),
            None => Ok(()),
        }
    }
}

/// Reads one level's fields for the generated `decode`.
pub struct LevelReader<'a> {
    cx: LoadContext,
    fields: Cursor<'a>,
    subsections: Cursor<'a>,
}

impl<'a> LevelReader<'a> {
    pub(super) fn new(image: &'a LevelImage) -> LevelReader<'a> {
        LevelReader {
            cx: LoadContext::new(image.version),
            fields: Cursor {
                values: &image.fields,
                next: 0,
            },
            subsections: Cursor {
                values: &image.subsections,
                next: 0,
            },
        }
    }

    /// Field `name` of `cell`, added in version `since`: `None` when the
    /// stream's version predates it (the field keeps its value, or
    /// `post_load` computes it).
    pub fn field<F: MigrateField + ?Sized>(
        &mut self,
        cell: &F,
        name: &str,
        since: u32,
    ) -> Result<Option<F::Value>, ValueError> {
        if since > self.cx.version() {
            return Ok(None);
        }
        let Some(value) = self.fields.take(name) else {
            return Err(self.fields.found_instead("field", name));
        };
        decode_checked(cell, value, &self.cx)
            .map(Some)
            .map_err(|e| e.in_field(name))
    }

    /// Subsection `name` of `cell`: `None` when it was not needed at save
    /// time (the field keeps its value).
    pub fn subsection<F: MigrateField + ?Sized>(
        &mut self,
        cell: &F,
        name: &str,
        since: u32,
    ) -> Result<Option<F::Value>, ValueError> {
        let Some(value) = self.subsections.take(name) else {
            return Ok(None);
        };
        if since > self.cx.version() {
            return Err(ValueError::new(format!(
                "subsection `{name}` was added in version {since}, but the stream is version {}",
                self.cx.version()
            )));
        }
        decode_checked(cell, value, &self.cx)
            .map(Some)
            .map_err(|e| e.in_field(name))
    }

    /// Every field and subsection was read.
    pub(super) fn finish(&self) -> Result<(), ValueError> {
        self.fields.finish("field")?;
        self.subsections.finish("subsection")
    }
}

fn decode_checked<F: MigrateField + ?Sized>(
    cell: &F,
    value: &Value,
    cx: &LoadContext,
) -> Result<F::Value, ValueError> {
    let decoded = <F::Value as VmState>::from_value(value, cx)?;
    cell.check(&decoded).map_err(ValueError::new)?;
    Ok(decoded)
}

/// Reads a struct's fields for the generated `VmState::from_value`.
pub struct StructReader<'a> {
    cx: LoadContext,
    fields: Cursor<'a>,
}

impl<'a> StructReader<'a> {
    /// The fields of `value`, which must be a struct.
    pub fn new(value: &'a Value, cx: &LoadContext, name: &str) -> Result<Self, ValueError> {
        match value {
            Value::Struct(fields) => Ok(StructReader {
                cx: *cx,
                fields: Cursor {
                    values: fields,
                    next: 0,
                },
            }),
            other => Err(ValueError::mismatch(format_args!("struct {name}"), other)),
        }
    }

    /// Field `name`, added in version `since`; `default` gives its value
    /// when the stream's version predates it.
    pub fn field<T: VmState>(
        &mut self,
        name: &str,
        since: u32,
        default: impl FnOnce() -> T,
    ) -> Result<T, ValueError> {
        if since > self.cx.version() {
            return Ok(default());
        }
        let Some(value) = self.fields.take(name) else {
            return Err(self.fields.found_instead("field", name));
        };
        T::from_value(value, &self.cx).map_err(|e| e.in_field(name))
    }

    /// Every field was read.
    pub fn finish(&self) -> Result<(), ValueError> {
        self.fields.finish("field")
    }

    /// The version being loaded (for the struct's own check).
    pub fn version(&self) -> u32 {
        self.cx.version()
    }
}

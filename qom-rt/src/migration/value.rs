//! Values as the stream carries them ([`Value`]), what a type says about
//! the values it migrates ([`ValueKind`]), and [`VmState`], the trait of
//! every type that has a stream encoding.

use core::fmt;

/// A value as the stream carries it. Every value says what it is (a tag
/// byte on the wire), so a stream can be parsed, checked and printed
/// without the types that wrote it; the types then check the parsed
/// value against what they expect ([`VmState::from_value`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `u8`.
    U8(u8),
    /// `u16`.
    U16(u16),
    /// `u32`.
    U32(u32),
    /// `u64` (and `usize`).
    U64(u64),
    /// `u128`.
    U128(u128),
    /// `i8`.
    I8(i8),
    /// `i16`.
    I16(i16),
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `i128`.
    I128(i128),
    /// A fixed-size array: every item has the tag `element`.
    Array {
        /// What every item is.
        element: Tag,
        /// The items, in index order.
        items: Vec<Value>,
    },
    /// An `Option`.
    Optional(Option<Box<Value>>),
    /// A struct: its fields by name, in declaration order.
    Struct(Vec<(String, Value)>),
}

/// The tag byte that says what a [`Value`] is (the stream's type codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// [`Value::Bool`]: one byte, 0 or 1.
    Bool = 0x01,
    /// [`Value::U8`].
    U8 = 0x02,
    /// [`Value::U16`], little endian.
    U16 = 0x03,
    /// [`Value::U32`], little endian.
    U32 = 0x04,
    /// [`Value::U64`], little endian.
    U64 = 0x05,
    /// [`Value::U128`], little endian.
    U128 = 0x06,
    /// [`Value::I8`].
    I8 = 0x07,
    /// [`Value::I16`], little endian.
    I16 = 0x08,
    /// [`Value::I32`], little endian.
    I32 = 0x09,
    /// [`Value::I64`], little endian.
    I64 = 0x0a,
    /// [`Value::I128`], little endian.
    I128 = 0x0b,
    /// [`Value::Array`]: count (u32), element tag, then each item's
    /// payload without its tag.
    Array = 0x10,
    /// [`Value::Optional`]: 0 (none) or 1 followed by a tagged value.
    Optional = 0x11,
    /// [`Value::Struct`]: count (u32), then per field its name and a
    /// tagged value.
    Struct = 0x12,
}

impl Tag {
    /// Every tag, for decoding.
    const ALL: [Tag; 14] = [
        Tag::Bool,
        Tag::U8,
        Tag::U16,
        Tag::U32,
        Tag::U64,
        Tag::U128,
        Tag::I8,
        Tag::I16,
        Tag::I32,
        Tag::I64,
        Tag::I128,
        Tag::Array,
        Tag::Optional,
        Tag::Struct,
    ];

    /// The tag a byte stands for.
    pub fn from_byte(byte: u8) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| *t as u8 == byte)
    }

    /// How the tag is printed in messages (`u32`, `array`).
    pub fn name(self) -> &'static str {
        match self {
            Tag::Bool => "bool",
            Tag::U8 => "u8",
            Tag::U16 => "u16",
            Tag::U32 => "u32",
            Tag::U64 => "u64",
            Tag::U128 => "u128",
            Tag::I8 => "i8",
            Tag::I16 => "i16",
            Tag::I32 => "i32",
            Tag::I64 => "i64",
            Tag::I128 => "i128",
            Tag::Array => "array",
            Tag::Optional => "option",
            Tag::Struct => "struct",
        }
    }
}

impl Value {
    /// What the value is.
    pub fn tag(&self) -> Tag {
        match self {
            Value::Bool(_) => Tag::Bool,
            Value::U8(_) => Tag::U8,
            Value::U16(_) => Tag::U16,
            Value::U32(_) => Tag::U32,
            Value::U64(_) => Tag::U64,
            Value::U128(_) => Tag::U128,
            Value::I8(_) => Tag::I8,
            Value::I16(_) => Tag::I16,
            Value::I32(_) => Tag::I32,
            Value::I64(_) => Tag::I64,
            Value::I128(_) => Tag::I128,
            Value::Array { .. } => Tag::Array,
            Value::Optional(_) => Tag::Optional,
            Value::Struct(_) => Tag::Struct,
        }
    }
}

/// What a migrated type's values look like: the description the derive
/// generates and `qom` prints. Kinds are `static`, so a description costs
/// nothing at run time.
#[derive(Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `bool`.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `usize`, carried as a `u64` (so a stream is the same on every host).
    Usize,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `[T; len]`.
    Array {
        /// The element's kind.
        element: &'static ValueKind,
        /// The number of elements.
        len: usize,
    },
    /// `Option<T>`.
    Optional(&'static ValueKind),
    /// A struct with `#[derive(VmState)]` (or a hand-written description).
    Struct(&'static StructDescription),
}

impl ValueKind {
    /// The tag its values carry.
    pub fn tag(&self) -> Tag {
        match self {
            ValueKind::Bool => Tag::Bool,
            ValueKind::U8 => Tag::U8,
            ValueKind::U16 => Tag::U16,
            ValueKind::U32 => Tag::U32,
            ValueKind::U64 | ValueKind::Usize => Tag::U64,
            ValueKind::U128 => Tag::U128,
            ValueKind::I8 => Tag::I8,
            ValueKind::I16 => Tag::I16,
            ValueKind::I32 => Tag::I32,
            ValueKind::I64 => Tag::I64,
            ValueKind::I128 => Tag::I128,
            ValueKind::Array { .. } => Tag::Array,
            ValueKind::Optional(_) => Tag::Optional,
            ValueKind::Struct(_) => Tag::Struct,
        }
    }
}

impl fmt::Display for ValueKind {
    /// As the type is written in Rust: `u32`, `[u32; 16]`, `Option<u8>`,
    /// or the struct's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueKind::Array { element, len } => write!(f, "[{element}; {len}]"),
            ValueKind::Optional(inner) => write!(f, "Option<{inner}>"),
            ValueKind::Struct(s) => f.write_str(s.name),
            ValueKind::Usize => f.write_str("usize"),
            scalar => f.write_str(scalar.tag().name()),
        }
    }
}

/// A struct's migrated fields, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub struct StructDescription {
    /// The Rust name of the struct (`Pl011State`).
    pub name: &'static str,
    /// Its fields.
    pub fields: &'static [FieldDescription],
}

/// One migrated field: of a struct with `#[derive(VmState)]`, or of an
/// object type's own level.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldDescription {
    /// The field's name.
    pub name: &'static str,
    /// The version of the enclosing object's state that added it
    /// (`#[migrate(since = N)]`; 1 for the first).
    pub since: u32,
    /// Whether it is a subsection: sent only when its `needed` predicate
    /// holds (`#[migrate(needed = path)]`, object fields only).
    pub subsection: bool,
    /// What its values are.
    pub kind: &'static ValueKind,
}

/// What a decoder knows about the value it decodes.
#[derive(Debug, Clone, Copy)]
pub struct LoadContext {
    version: u32,
}

impl LoadContext {
    /// A context for state saved at `version` of its object type.
    pub fn new(version: u32) -> LoadContext {
        LoadContext { version }
    }

    /// The version of the object's state the stream carries: fields added
    /// later (`since` above it) are absent and take their defaults.
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// Why a value from the stream cannot be loaded, with where it is (a field
/// path such as `regs.read_fifo[3]`, built as the error goes up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    path: String,
    reason: String,
}

impl ValueError {
    /// An error about the value being decoded.
    pub fn new(reason: impl Into<String>) -> ValueError {
        ValueError {
            path: String::new(),
            reason: reason.into(),
        }
    }

    /// The stream has a value of another kind than the type expects.
    pub fn mismatch(expected: impl fmt::Display, found: &Value) -> ValueError {
        ValueError::new(format!(
            "expected {expected}, the stream has {}",
            describe_value(found)
        ))
    }

    /// The same error, inside field `name` of the enclosing struct.
    pub fn in_field(self, name: &str) -> ValueError {
        let path = match self.path.as_str() {
            "" => name.to_string(),
            rest if rest.starts_with('[') => format!("{name}{rest}"),
            rest => format!("{name}.{rest}"),
        };
        ValueError { path, ..self }
    }

    /// The same error, inside element `index` of the enclosing array.
    pub fn in_element(self, index: usize) -> ValueError {
        let path = match self.path.as_str() {
            "" => format!("[{index}]"),
            rest if rest.starts_with('[') => format!("[{index}]{rest}"),
            rest => format!("[{index}].{rest}"),
        };
        ValueError { path, ..self }
    }

    /// Where the value is (`regs.read_fifo[3]`); empty for the value
    /// itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_str() {
            "" => f.write_str(&self.reason),
            path => write!(f, "field `{path}`: {}", self.reason),
        }
    }
}

/// A value as messages name it: its kind, and a scalar's value.
fn describe_value(value: &Value) -> String {
    match value {
        Value::Array { element, items } => {
            format!("an array of {} {}", items.len(), element.name())
        }
        Value::Optional(None) => "`None`".into(),
        Value::Optional(Some(_)) => "`Some`".into(),
        Value::Struct(fields) => format!("a struct of {} fields", fields.len()),
        Value::Bool(v) => format!("bool `{v}`"),
        Value::U8(v) => format!("u8 `{v}`"),
        Value::U16(v) => format!("u16 `{v}`"),
        Value::U32(v) => format!("u32 `{v}`"),
        Value::U64(v) => format!("u64 `{v}`"),
        Value::U128(v) => format!("u128 `{v}`"),
        Value::I8(v) => format!("i8 `{v}`"),
        Value::I16(v) => format!("i16 `{v}`"),
        Value::I32(v) => format!("i32 `{v}`"),
        Value::I64(v) => format!("i64 `{v}`"),
        Value::I128(v) => format!("i128 `{v}`"),
    }
}

/// A type with a stream encoding: integers, `bool`, arrays and `Option`s
/// of them, and structs with `#[derive(VmState)]`. The value itself is
/// plain data; inside an object it lives in a cell that
/// [`MigrateField`](super::MigrateField) saves and restores through
/// `&self` (a `Mutex<T>`, a `Prop<T>`, an atomic).
///
/// `from_value` checks everything the stream says (kinds, lengths, ranges,
/// the struct's own `check`) before anything is applied: a value it
/// returns is one the type can hold.
///
/// ```
/// use qom_rt::migration::{LoadContext, VmState};
///
/// #[derive(VmState, Debug, PartialEq)]
/// struct Timer {
///     control: u32,
///     count: [u16; 2],
///     #[migrate(since = 2)]
///     running: bool,
/// }
///
/// let timer = Timer { control: 0x20, count: [7, 9], running: true };
/// let value = timer.to_value();
/// assert_eq!(Timer::from_value(&value, &LoadContext::new(2)), Ok(timer));
/// // A version-1 stream has no `running`: it takes its default.
/// let old = qom_rt::migration::Value::Struct(vec![
///     ("control".into(), 0x20u32.to_value()),
///     ("count".into(), [7u16, 9].to_value()),
/// ]);
/// assert!(!Timer::from_value(&old, &LoadContext::new(1)).unwrap().running);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no migration format",
    label = "not a migratable value",
    note = "migrated values are integers, `bool`, arrays and `Option`s of them, and structs with `#[derive(qom_rt::migration::VmState)]` (or a hand-written `impl VmState`)",
    note = "a pointer is an address in this process: migrate what it stands for (a guest address, an index) and rebuild it in `MigrationHooks::post_load`",
    note = "a closure or trait object (`Box<dyn Fn>`) is code, not state: leave it without `#[migrate]`; the destination connects its own",
    note = "an `Owned<T>` is a reference to an object, not state: declare the object a child (`#[child(owned)]`), which migrates as a section of its own, or hold a `#[property] Link<T>`"
)]
pub trait VmState: Sized + 'static {
    /// What the values look like (printed by the type's description).
    const KIND: &'static ValueKind;

    /// The value as the stream carries it.
    fn to_value(&self) -> Value;

    /// The value back from the stream, checked: every kind, length and
    /// range, and any rule of the type's own.
    fn from_value(value: &Value, cx: &LoadContext) -> Result<Self, ValueError>;
}

macro_rules! scalar {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl VmState for $ty {
            const KIND: &'static ValueKind = &ValueKind::$variant;

            fn to_value(&self) -> Value {
                Value::$variant(*self)
            }

            fn from_value(value: &Value, _: &LoadContext) -> Result<Self, ValueError> {
                match value {
                    Value::$variant(v) => Ok(*v),
                    other => Err(ValueError::mismatch(stringify!($ty), other)),
                }
            }
        }
    )*};
}

scalar! {
    bool => Bool, u8 => U8, u16 => U16, u32 => U32, u64 => U64, u128 => U128,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, i128 => I128,
}

/// `usize` travels as a `u64`, so that a stream does not depend on the
/// host's word size; a value that does not fit this host is refused.
impl VmState for usize {
    const KIND: &'static ValueKind = &ValueKind::Usize;

    fn to_value(&self) -> Value {
        Value::U64(*self as u64)
    }

    fn from_value(value: &Value, _: &LoadContext) -> Result<Self, ValueError> {
        match value {
            Value::U64(v) => usize::try_from(*v)
                .map_err(|_| ValueError::new(format!("{v} does not fit a usize on this host"))),
            other => Err(ValueError::mismatch("usize (u64)", other)),
        }
    }
}

impl<T: VmState, const N: usize> VmState for [T; N] {
    const KIND: &'static ValueKind = &ValueKind::Array {
        element: T::KIND,
        len: N,
    };

    fn to_value(&self) -> Value {
        Value::Array {
            element: T::KIND.tag(),
            items: self.iter().map(VmState::to_value).collect(),
        }
    }

    fn from_value(value: &Value, cx: &LoadContext) -> Result<Self, ValueError> {
        let Value::Array { items, .. } = value else {
            return Err(ValueError::mismatch(Self::KIND, value));
        };
        if items.len() != N {
            return Err(ValueError::new(format!(
                "expected {N} elements, the stream has {}",
                items.len()
            )));
        }
        let decoded = items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_value(item, cx).map_err(|e| e.in_element(i)))
            .collect::<Result<Vec<T>, _>>()?;
        // The length was checked above.
        decoded
            .try_into()
            .map_err(|_| ValueError::new("array length changed while decoding"))
    }
}

impl<T: VmState> VmState for Option<T> {
    const KIND: &'static ValueKind = &ValueKind::Optional(T::KIND);

    fn to_value(&self) -> Value {
        Value::Optional(self.as_ref().map(|v| Box::new(v.to_value())))
    }

    fn from_value(value: &Value, cx: &LoadContext) -> Result<Self, ValueError> {
        match value {
            Value::Optional(None) => Ok(None),
            Value::Optional(Some(inner)) => T::from_value(inner, cx).map(Some),
            other => Err(ValueError::mismatch(Self::KIND, other)),
        }
    }
}

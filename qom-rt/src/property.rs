//! Properties: typed, thread-safe fields declared per class with
//! `#[property]`, settable from strings as `-device TYPE,prop=value` does.

use crate::error::{Error, Result};
use crate::object::ObjectType;
use core::ptr::NonNull;
use std::sync::RwLock;

/// A value type a property can hold: how it is parsed and printed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a property type",
    label = "not a property type",
    note = "properties hold `bool`, integers, `String`, or a type implementing `qom_rt::PropertyType`"
)]
pub trait PropertyType: Clone + Send + Sync + 'static {
    /// The QAPI-style type name shown by `qom-list` (`uint32`, `bool`).
    const TYPE_NAME: &'static str;
    /// Parses a value written on a command line; `Err` says what was
    /// expected (e.g. "an integer between 0 and 255").
    fn parse(text: &str) -> Result<Self, String>;
    /// Prints the value so that `parse` reads it back.
    fn format(&self) -> String;
}

/// A thread-safe property cell: `get` returns a copy, `set` replaces it.
///
/// ```
/// let p = qom_rt::Prop::new(4u32);
/// p.set(8);
/// assert_eq!(p.get(), 8);
/// ```
pub struct Prop<T> {
    value: RwLock<T>,
}

impl<T: Clone> Prop<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        Prop {
            value: RwLock::new(value),
        }
    }

    /// A copy of the current value.
    pub fn get(&self) -> T {
        self.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the value.
    pub fn set(&self, value: T) {
        *self.value.write().unwrap_or_else(|e| e.into_inner()) = value;
    }
}

impl<T: Clone + Default> Default for Prop<T> {
    fn default() -> Self {
        Prop::new(T::default())
    }
}

impl<T: Clone + core::fmt::Debug> core::fmt::Debug for Prop<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Prop").field(&self.get()).finish()
    }
}

/// One property of a type, in the type's static table.
pub struct PropertyInfo {
    pub(crate) name: &'static str,
    pub(crate) type_name: &'static str,
    pub(crate) doc: &'static str,
    pub(crate) default: &'static str,
    /// Offset of the `Prop<T>` field from the start of the declaring type.
    pub(crate) offset: usize,
    pub(crate) parse_and_set: unsafe fn(NonNull<u8>, &str) -> Result<(), String>,
    pub(crate) get: unsafe fn(NonNull<u8>) -> String,
}

impl PropertyInfo {
    /// The property name (`num-ports`).
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// The value type's name (`uint32`).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
    /// The documentation string from `#[property(doc = "...")]`.
    pub fn doc(&self) -> &'static str {
        self.doc
    }
    /// The default value as source text (empty if none was given).
    pub fn default_text(&self) -> &'static str {
        self.default
    }

    /// Describes a `Prop<T>` field (used by the derive).
    #[doc(hidden)]
    pub const fn __new<T: PropertyType>(
        name: &'static str,
        doc: &'static str,
        default: &'static str,
        offset: usize,
    ) -> PropertyInfo {
        PropertyInfo {
            name,
            type_name: T::TYPE_NAME,
            doc,
            default,
            offset,
            parse_and_set: parse_and_set::<T>,
            get: get::<T>,
        }
    }
}

impl core::fmt::Debug for PropertyInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PropertyInfo({:?}: {})", self.name, self.type_name)
    }
}

/// # Safety
/// `field` points to a live `Prop<T>`.
unsafe fn parse_and_set<T: PropertyType>(field: NonNull<u8>, text: &str) -> Result<(), String> {
    let value = T::parse(text)?;
    // SAFETY: forwarded from the caller.
    unsafe { field.cast::<Prop<T>>().as_ref() }.set(value);
    Ok(())
}

/// # Safety
/// `field` points to a live `Prop<T>`.
unsafe fn get<T: PropertyType>(field: NonNull<u8>) -> String {
    // SAFETY: forwarded from the caller.
    unsafe { field.cast::<Prop<T>>().as_ref() }.get().format()
}

/// Finds a property by name on the object's type or its ancestors, with a
/// pointer to its field.
fn find<T: ObjectType>(object: &T, name: &str) -> Option<(&'static PropertyInfo, NonNull<u8>)> {
    let header = object.header();
    let info = header.type_info();
    for level in info.lineage() {
        if let Some(p) = level.properties.iter().find(|p| p.name == name) {
            let start = header.allocation_ptr_at(NonNull::from(header).cast::<u8>());
            // SAFETY: every level shares the header; the level starts
            // `header_offset` before it and the field is `offset` into the
            // level, all inside the object's allocation.
            let at = unsafe { start.byte_sub(level.header_offset).byte_add(p.offset) };
            return Some((p, at));
        }
    }
    None
}

fn object_label<T: ObjectType>(object: &T) -> String {
    use crate::tree::ObjectTree;
    object
        .canonical_path()
        .unwrap_or_else(|| format!("<{}>", object.header().type_info().name()))
}

/// Property access on every object (in the prelude).
///
/// ```
/// use qom_rt::prelude::*;
///
/// #[derive(QomObject)]
/// #[qom(name = "ports")]
/// struct Ports {
///     parent: ParentField<Object>,
///     #[property(default = 4, doc = "number of ports")]
///     num_ports: Prop<u32>,
/// }
/// impl ObjectImpl for Ports {}
///
/// let p = Owned::<Ports>::new();
/// p.set_property("num-ports", "8").unwrap();
/// assert_eq!(p.get_property("num-ports").unwrap(), "8");
/// assert!(p.set_property("num-ports", "-1").is_err());
/// assert_eq!(p.num_ports.get(), 8);
/// ```
pub trait ObjectProperties: ObjectType {
    /// Sets a property from its string form; on error the object is
    /// unchanged and the error names the object, property, value and what
    /// was expected.
    fn set_property(&self, name: &str, value: &str) -> Result<()> {
        let (info, field) = find(self, name).ok_or_else(|| unknown(self, name))?;
        // SAFETY: `find` returned a pointer to this object's live field of
        // the type the table entry was generated for.
        unsafe { (info.parse_and_set)(field, value) }.map_err(|expected| Error::InvalidValue {
            object: object_label(self),
            property: name.to_string(),
            value: value.to_string(),
            expected,
        })
    }

    /// The property's value in string form.
    fn get_property(&self, name: &str) -> Result<String> {
        let (info, field) = find(self, name).ok_or_else(|| unknown(self, name))?;
        // SAFETY: as in `set_property`.
        Ok(unsafe { (info.get)(field) })
    }

    /// Every property of the object's type, parent types' first.
    fn properties(&self) -> Vec<&'static PropertyInfo> {
        let info = self.header().type_info();
        info.ancestors
            .iter()
            .flat_map(|t| t.properties.iter())
            .collect()
    }
}

impl<T: ObjectType> ObjectProperties for T {}

fn unknown<T: ObjectType>(object: &T, name: &str) -> Error {
    let all = object.properties();
    Error::UnknownProperty {
        object: object_label(object),
        property: name.to_string(),
        suggestions: crate::suggest::closest(name, all.iter().map(|p| p.name)),
    }
}

macro_rules! integer_property {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl PropertyType for $t {
            const TYPE_NAME: &'static str = $name;
            fn parse(text: &str) -> Result<Self, String> {
                let expected = || format!(
                    "an integer between {} and {} (decimal or 0x hex)",
                    <$t>::MIN, <$t>::MAX
                );
                let value = parse_integer(text).ok_or_else(expected)?;
                <$t>::try_from(value).map_err(|_| expected())
            }
            fn format(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

integer_property!(
    u8 => "uint8", u16 => "uint16", u32 => "uint32", u64 => "uint64", usize => "size",
    i8 => "int8", i16 => "int16", i32 => "int32", i64 => "int64", isize => "int",
);

/// Decimal or `0x` hexadecimal, with an optional sign.
fn parse_integer(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<i128>().ok()?
        }
        None => return None,
    };
    Some(if negative { -magnitude } else { magnitude })
}

impl PropertyType for bool {
    const TYPE_NAME: &'static str = "bool";
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "on" | "true" | "yes" => Ok(true),
            "off" | "false" | "no" => Ok(false),
            _ => Err("one of on, off, true, false, yes, no".to_string()),
        }
    }
    fn format(&self) -> String {
        if *self { "on" } else { "off" }.to_string()
    }
}

impl PropertyType for String {
    const TYPE_NAME: &'static str = "str";
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_string())
    }
    fn format(&self) -> String {
        self.clone()
    }
}

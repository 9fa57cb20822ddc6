//! Types as QAPI names them, so that each command's argument and return
//! types, declared once as Rust structs with `qapi_struct!`, also give
//! the argument checks (QEMU's error texts) and `query-qmp-schema`.

use serde_json::{json, Map, Value};

/// How a type appears in the schema.
#[derive(Debug, Clone, Copy)]
pub enum SchemaType {
    /// A built-in QAPI type: its name (`str`, `int`, `bool`, `any`) and
    /// the JSON type it takes (`string`, `int`, `boolean`, `value`).
    Builtin(&'static str, &'static str),
    /// A list of the element type.
    Array(fn() -> SchemaType),
    /// A struct: its name and members.
    Object(&'static str, fn() -> Vec<Member>),
}

impl SchemaType {
    /// The name `query-qmp-schema` gives it (`[T]` for a list).
    pub fn name(&self) -> String {
        match self {
            SchemaType::Builtin(name, _) => (*name).to_string(),
            SchemaType::Array(element) => format!("[{}]", element().name()),
            SchemaType::Object(name, _) => (*name).to_string(),
        }
    }

    /// What QEMU's argument checks call the type in `Invalid parameter
    /// type for 'x', expected: ...`.
    fn expected(&self) -> &'static str {
        match self {
            SchemaType::Builtin(_, json_type) => match *json_type {
                "int" => "integer",
                other => other,
            },
            SchemaType::Array(_) => "array",
            SchemaType::Object(..) => "object",
        }
    }

    /// Whether `value` has this type at the top level (members of nested
    /// objects are checked when serde reads them).
    fn accepts(&self, value: &Value) -> bool {
        match self {
            SchemaType::Builtin(_, "string") => value.is_string(),
            SchemaType::Builtin(_, "int") => value.is_i64() || value.is_u64(),
            SchemaType::Builtin(_, "boolean") => value.is_boolean(),
            SchemaType::Builtin(_, "number") => value.is_number(),
            SchemaType::Builtin(..) => true,
            SchemaType::Array(_) => value.is_array(),
            SchemaType::Object(..) => value.is_object(),
        }
    }
}

/// One member of a struct.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its name on the wire (kebab-case, or as renamed).
    pub name: String,
    /// Its type.
    pub ty: SchemaType,
    /// Whether it may be left out.
    pub optional: bool,
}

impl Member {
    /// The member for a field named `ident` (a raw `r#` prefix dropped,
    /// `_` as `-`) of type `T`, or named `rename` on the wire.
    pub fn of<T: QapiType>(ident: &str, rename: Option<&str>) -> Member {
        let name = match rename {
            Some(name) => name.to_string(),
            None => ident.trim_start_matches("r#").replace('_', "-"),
        };
        Member {
            name,
            ty: T::schema(),
            optional: T::OPTIONAL,
        }
    }
}

/// A Rust type with a QAPI name.
pub trait QapiType {
    /// Its schema entry.
    fn schema() -> SchemaType;
    /// `Option<T>`: the member may be absent.
    const OPTIONAL: bool = false;
    /// Whether this value is left out when serialized (`None`).
    fn absent(&self) -> bool {
        false
    }
}

/// For `#[serde(skip_serializing_if = ...)]` on every struct member:
/// `None` is left out, as QEMU leaves out absent optional members.
pub fn is_absent<T: QapiType>(value: &T) -> bool {
    value.absent()
}

impl QapiType for String {
    fn schema() -> SchemaType {
        SchemaType::Builtin("str", "string")
    }
}

impl QapiType for bool {
    fn schema() -> SchemaType {
        SchemaType::Builtin("bool", "boolean")
    }
}

macro_rules! qapi_int {
    ($($ty:ty => $name:literal),*) => {$(
        impl QapiType for $ty {
            fn schema() -> SchemaType {
                SchemaType::Builtin($name, "int")
            }
        }
    )*};
}
qapi_int!(i64 => "int", u64 => "uint64", u32 => "uint32", u16 => "uint16", u8 => "uint8");

impl QapiType for Value {
    fn schema() -> SchemaType {
        SchemaType::Builtin("any", "value")
    }
}

impl<T: QapiType> QapiType for Vec<T> {
    fn schema() -> SchemaType {
        SchemaType::Array(T::schema)
    }
}

impl<T: QapiType> QapiType for Option<T> {
    fn schema() -> SchemaType {
        T::schema()
    }
    const OPTIONAL: bool = true;
    fn absent(&self) -> bool {
        self.is_none()
    }
}

/// Declares a QAPI struct: the Rust struct, serde's `Serialize` and
/// `Deserialize` (kebab-case names, unknown members refused, `None`
/// members left out) and its [`QapiType`], from one declaration. A
/// member whose wire name is not the kebab-case of its field says so
/// with `as "name"`.
macro_rules! qapi_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident $(as $wire:literal)? : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                $(#[serde(rename = $wire)])?
                #[serde(skip_serializing_if = "crate::qmp::schema::is_absent")]
                pub $field: $ty,
            )*
        }

        impl crate::qmp::schema::QapiType for $name {
            fn schema() -> crate::qmp::schema::SchemaType {
                crate::qmp::schema::SchemaType::Object(stringify!($name), || {
                    vec![$(
                        crate::qmp::schema::Member::of::<$ty>(
                            stringify!($field),
                            None $(.or(Some($wire)))?,
                        ),
                    )*]
                })
            }
        }
    };
}
pub(crate) use qapi_struct;

/// Checks `arguments` against the members of `ty` with QEMU's texts
/// (`qobject_input_visitor`): a required member missing, a member the
/// struct does not have, a member of the wrong JSON type. `open` structs
/// (`device_add`'s) take members they do not declare.
pub fn check_arguments(
    ty: SchemaType,
    arguments: &Map<String, Value>,
    open: bool,
) -> Result<(), String> {
    let SchemaType::Object(_, members) = ty else {
        return Ok(());
    };
    let members = members();
    for member in &members {
        match arguments.get(&member.name) {
            None if !member.optional => {
                return Err(format!("Parameter '{}' is missing", member.name))
            }
            Some(value) if !member.ty.accepts(value) => {
                return Err(format!(
                    "Invalid parameter type for '{}', expected: {}",
                    member.name,
                    member.ty.expected()
                ))
            }
            _ => {}
        }
    }
    if !open {
        if let Some(extra) = arguments
            .keys()
            .find(|k| !members.iter().any(|m| &m.name == *k))
        {
            return Err(format!("Parameter '{extra}' is unexpected"));
        }
    }
    Ok(())
}

/// A type's `SchemaInfo` entries (`qapi/introspect.json`), its members'
/// types' first, into `out`, each name once.
pub fn describe_type(ty: SchemaType, out: &mut Vec<Value>, seen: &mut Vec<String>) {
    let name = ty.name();
    if seen.contains(&name) {
        return;
    }
    seen.push(name.clone());
    match ty {
        SchemaType::Builtin(name, json_type) => out.push(json!({
            "name": name, "meta-type": "builtin", "json-type": json_type,
        })),
        SchemaType::Array(element) => {
            describe_type(element(), out, seen);
            out.push(json!({
                "name": name, "meta-type": "array", "element-type": element().name(),
            }));
        }
        SchemaType::Object(_, members) => {
            let members = members();
            let mut described = Vec::new();
            for member in &members {
                describe_type(member.ty, out, seen);
                let mut entry = json!({ "name": member.name, "type": member.ty.name() });
                if member.optional {
                    entry["default"] = Value::Null;
                }
                described.push(entry);
            }
            out.push(json!({
                "name": name, "meta-type": "object", "members": described,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    qapi_struct! {
        /// A test struct.
        struct Probe {
            /// A path.
            path: String,
            r#abstract: Option<bool>,
            qdev_id as "qdev_id": Option<Vec<u32>>,
        }
    }

    #[test]
    fn members_are_named_as_on_the_wire_and_checked_with_qemus_texts() {
        let ty = Probe::schema();
        let args = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            check_arguments(ty, &args(json!({"path": "/", "abstract": true})), false),
            Ok(())
        );
        assert_eq!(
            check_arguments(ty, &args(json!({})), false),
            Err("Parameter 'path' is missing".into())
        );
        assert_eq!(
            check_arguments(ty, &args(json!({"path": 1})), false),
            Err("Invalid parameter type for 'path', expected: string".into())
        );
        assert_eq!(
            check_arguments(ty, &args(json!({"path": "/", "qdev_id": {}})), false),
            Err("Invalid parameter type for 'qdev_id', expected: array".into())
        );
        assert_eq!(
            check_arguments(ty, &args(json!({"path": "/", "x": 1})), false),
            Err("Parameter 'x' is unexpected".into())
        );
        assert_eq!(
            check_arguments(ty, &args(json!({"path": "/", "x": 1})), true),
            Ok(())
        );
    }

    #[test]
    fn none_is_left_out_and_the_schema_lists_member_types_first() {
        let probe = Probe {
            path: "/m".into(),
            r#abstract: None,
            qdev_id: Some(vec![1]),
        };
        assert_eq!(
            serde_json::to_value(&probe).unwrap(),
            json!({"path": "/m", "qdev_id": [1]})
        );
        let (mut out, mut seen) = (Vec::new(), Vec::new());
        describe_type(Probe::schema(), &mut out, &mut seen);
        let names: Vec<&str> = out.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["str", "bool", "uint32", "[uint32]", "Probe"]);
        assert_eq!(
            out[4]["members"][1],
            json!({"name": "abstract", "type": "bool", "default": null})
        );
    }
}

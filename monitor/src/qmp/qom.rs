//! The object-model commands: `qom-list`, `qom-get`, `qom-set`,
//! `qom-list-types`, `qom-list-properties`, `device-list-properties`.

use super::errors::from_qom;
use super::schema::qapi_struct;
use super::wire::QmpError;
use crate::commands::qom::{get_value, set_value, typed};
use crate::monitor::Monitor;
use qom_devices::Device;
use qom_rt::prelude::*;
use qom_rt::TypeInfo;
use serde_json::Value;

qapi_struct! {
    /// `qom-list`'s arguments.
    pub struct PathArgs {
        /// The object's path, absolute or partial.
        path: String,
    }
}

qapi_struct! {
    /// `qom-get`'s arguments.
    pub struct QomGetArgs {
        /// The object's path.
        path: String,
        /// The property's name.
        property: String,
    }
}

qapi_struct! {
    /// `qom-set`'s arguments.
    pub struct QomSetArgs {
        /// The object's path.
        path: String,
        /// The property's name.
        property: String,
        /// The value: a string as HMP takes it, or a number or boolean.
        value: Value,
    }
}

qapi_struct! {
    /// `qom-list-types`' arguments.
    pub struct ListTypesArgs {
        /// Only types that are (or implement) this one.
        implements: Option<String>,
        /// Include abstract types (default: no).
        r#abstract: Option<bool>,
    }
}

qapi_struct! {
    /// `qom-list-properties`' and `device-list-properties`' arguments.
    pub struct TypenameArgs {
        /// The type's name.
        typename: String,
    }
}

qapi_struct! {
    /// One entry of `qom-list` and of the property listings.
    pub struct ObjectPropertyInfo {
        /// The name.
        name: String,
        /// The type: `child<T>`, `link<T>`, `uint32`, `string`, ...
        r#type: String,
        /// Its documentation, if it has some.
        description: Option<String>,
        /// Its default, when listing a type's properties.
        default_value: Option<Value>,
    }
}

qapi_struct! {
    /// One entry of `qom-list-types`.
    pub struct ObjectTypeInfo {
        /// The type's name.
        name: String,
        /// Present (true) for an abstract type.
        r#abstract: Option<bool>,
        /// Its parent type.
        parent: Option<String>,
    }
}

pub(super) fn qom_list(
    _: &mut Monitor,
    args: PathArgs,
) -> Result<Vec<ObjectPropertyInfo>, QmpError> {
    let entries = qom_rt::qom_list(&args.path).map_err(from_qom)?;
    Ok(entries
        .into_iter()
        .map(|e| ObjectPropertyInfo {
            name: e.name,
            r#type: e.type_name,
            description: (!e.doc.is_empty()).then(|| e.doc.to_string()),
            default_value: None,
        })
        .collect())
}

pub(super) fn qom_get(_: &mut Monitor, args: QomGetArgs) -> Result<Value, QmpError> {
    let (value, type_name) = get_value(&args.path, &args.property).map_err(from_qom)?;
    Ok(typed(value, &type_name))
}

pub(super) fn qom_set(
    _: &mut Monitor,
    args: QomSetArgs,
) -> Result<super::commands::Empty, QmpError> {
    let text = match &args.value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        other => {
            return Err(QmpError::generic(format!(
                "Invalid parameter type for 'value': `{other}` is not a string, number or boolean (property `{}` of `{}`)",
                args.property, args.path
            )))
        }
    };
    set_value(&args.path, &args.property, &text).map_err(from_qom)?;
    Ok(super::commands::Empty {})
}

/// Whether `info` is `name` or a subtype of it, or implements the
/// interface `name`.
fn implements(info: &TypeInfo, name: &str) -> bool {
    info.ancestors().iter().any(|t| t.name() == name) || info.interfaces().contains(&name)
}

pub(super) fn qom_list_types(
    _: &mut Monitor,
    args: ListTypesArgs,
) -> Result<Vec<ObjectTypeInfo>, QmpError> {
    let with_abstract = args.r#abstract.unwrap_or(false);
    Ok(qom_rt::types()
        .iter()
        .filter(|t| with_abstract || !t.is_abstract())
        .filter(|t| args.implements.as_deref().is_none_or(|i| implements(t, i)))
        .map(|t| ObjectTypeInfo {
            name: t.name().to_string(),
            r#abstract: t.is_abstract().then_some(true),
            parent: t.parent().map(|p| p.name().to_string()),
        })
        .collect())
}

/// The properties a type declares, its parents' first.
fn properties(info: &TypeInfo) -> Vec<ObjectPropertyInfo> {
    info.ancestors()
        .iter()
        .flat_map(|level| level.own_properties())
        .map(|p| ObjectPropertyInfo {
            name: p.name().to_string(),
            r#type: p.type_name().to_string(),
            description: (!p.doc().is_empty()).then(|| p.doc().to_string()),
            default_value: (!p.default_text().is_empty())
                .then(|| typed(p.default_text().to_string(), p.type_name())),
        })
        .collect()
}

fn type_named(name: &str) -> Result<&'static TypeInfo, QmpError> {
    qom_rt::type_by_name(name).map_err(from_qom)
}

pub(super) fn qom_list_properties(
    _: &mut Monitor,
    args: TypenameArgs,
) -> Result<Vec<ObjectPropertyInfo>, QmpError> {
    Ok(properties(type_named(&args.typename)?))
}

pub(super) fn device_list_properties(
    _: &mut Monitor,
    args: TypenameArgs,
) -> Result<Vec<ObjectPropertyInfo>, QmpError> {
    // QEMU's class for an unknown device type here (not for
    // `qom-list-properties`, which says GenericError).
    let info = type_named(&args.typename)
        .map_err(|e| QmpError::new(super::wire::ErrorClass::DeviceNotFound, e.desc))?;
    if !info.is_a(Device::TYPE_INFO) {
        return Err(QmpError::generic(format!(
            "Parameter 'typename' expects device: `{}` is not a device type",
            args.typename
        )));
    }
    if info.is_abstract() {
        return Err(QmpError::generic(format!(
            "Parameter 'typename' expects a non-abstract device type: `{}` is abstract",
            args.typename
        )));
    }
    Ok(properties(info))
}

#[cfg(test)]
mod tests {
    use super::typed;
    use serde_json::json;

    #[test]
    fn values_are_typed_as_qemu_types_them() {
        assert_eq!(typed("8".into(), "uint32"), json!(8));
        assert_eq!(typed("-3".into(), "int64"), json!(-3));
        assert_eq!(typed("on".into(), "bool"), json!(true));
        assert_eq!(typed("off".into(), "bool"), json!(false));
        assert_eq!(typed("8".into(), "int32"), json!(8));
        assert_eq!(typed("".into(), "str"), json!(""));
        assert_eq!(typed("auto".into(), "uint32"), json!("auto"));
    }
}

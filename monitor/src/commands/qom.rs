//! `qom-list`, `qom-get` and `qom-set`: objects and properties by path.
//! [`get_value`] and [`set_value`] are the operations, shared with QMP.

use super::Failure;
use crate::monitor::Monitor;
use qom_rt::prelude::*;

/// `qom-list PATH`: one line per child (`child<T>`), link (`link<T>`)
/// and property, `name (type)`, as HMP prints it.
pub(super) fn list(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [path] = args else {
        return Err(Failure::Usage);
    };
    Ok(qom_rt::format_qom_list(&qom_rt::qom_list(path)?))
}

/// The value of `property` of the object at `path` in string form, and
/// the name of its type as `qom-list` shows it (`uint32`, `bool`;
/// `string` for `type`; a computed property's own).
pub(crate) fn get_value(path: &str, property: &str) -> Result<(String, String), qom_rt::Error> {
    let object = qom_rt::resolve_path(path)?;
    let value = object.get_property(property)?;
    let type_name = qom_rt::list_object(&*object)
        .into_iter()
        .find(|entry| entry.name == property)
        .map_or_else(|| "string".to_string(), |entry| entry.type_name);
    Ok((value, type_name))
}

/// Sets `property` of the object at `path` from its string form (parsed
/// as the property's type; refused after realize).
pub(crate) fn set_value(path: &str, property: &str, value: &str) -> Result<(), qom_rt::Error> {
    qom_rt::resolve_path(path)?.set_property(property, value)
}

/// `qom-get PATH PROP`: the value as JSON, as QEMU 7.2's HMP prints it
/// (`qobject_to_json_pretty` of what QMP's `qom-get` returns): a string
/// quoted, a boolean `true`/`false`, a number bare.
pub(super) fn get(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [path, property] = args else {
        return Err(Failure::Usage);
    };
    let (value, type_name) = get_value(path, property)?;
    let json = typed(value, &type_name);
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    ))
}

/// A property's string form as JSON, typed as QEMU's visitors type it:
/// integers and sizes as numbers, booleans as `true`/`false`, the rest
/// as strings.
pub(crate) fn typed(value: String, type_name: &str) -> serde_json::Value {
    let integer =
        type_name.starts_with("uint") || type_name.starts_with("int") || type_name == "size";
    if integer {
        if let Ok(n) = value.parse::<u64>() {
            return n.into();
        }
        if let Ok(n) = value.parse::<i64>() {
            return n.into();
        }
    }
    match (type_name, value.as_str()) {
        ("bool", "on" | "true") => true.into(),
        ("bool", "off" | "false") => false.into(),
        _ => value.into(),
    }
}

/// `qom-set PATH PROP VALUE`: parsed as the property's type; refused
/// after realize.
pub(super) fn set(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [path, property, value] = args else {
        return Err(Failure::Usage);
    };
    set_value(path, property, value)?;
    Ok(String::new())
}

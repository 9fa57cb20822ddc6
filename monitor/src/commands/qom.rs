//! `qom-list`, `qom-get` and `qom-set`: objects and properties by path.

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

/// `qom-get PATH PROP`: the value alone.
pub(super) fn get(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [path, property] = args else {
        return Err(Failure::Usage);
    };
    let value = qom_rt::resolve_path(path)?.get_property(property)?;
    Ok(format!("{value}\n"))
}

/// `qom-set PATH PROP VALUE`: parsed as the property's type; refused
/// after realize.
pub(super) fn set(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [path, property, value] = args else {
        return Err(Failure::Usage);
    };
    qom_rt::resolve_path(path)?.set_property(property, value)?;
    Ok(String::new())
}

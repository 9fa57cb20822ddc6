//! `device_add` and `device_del`, and `device_add TYPE,help`.

use super::Failure;
use crate::monitor::Monitor;
use qom_devices::DeviceOptions;
use std::fmt::Write;

/// `device_add TYPE,id=ID,prop=value,...` or `device_add TYPE,help`.
pub(super) fn device_add(monitor: &mut Monitor, _: &[&str], spec: &str) -> Result<String, Failure> {
    if spec.is_empty() {
        return Err(Failure::Usage);
    }
    let options = DeviceOptions::parse(spec)?;
    if options.help {
        return Ok(device_help(&options.type_name)?);
    }
    monitor.machine().device_add_options(&options)?;
    Ok(String::new())
}

/// `device_del ID`.
pub(super) fn device_del(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [id] = args else {
        return Err(Failure::Usage);
    };
    monitor.machine().device_del(id)?;
    Ok(String::new())
}

/// `device_add TYPE,help`: the type's properties with types, defaults and
/// docs, parent types' first, as QEMU's `-device TYPE,help`.
pub(crate) fn device_help(type_name: &str) -> Result<String, qom_rt::Error> {
    let info = qom_rt::type_by_name(type_name)?;
    let mut out = format!("{} options:\n", info.name());
    for level in info.ancestors() {
        for p in level.own_properties() {
            let mut line = format!("  {}=<{}>", p.name(), p.type_name());
            if !p.doc().is_empty() || !p.default_text().is_empty() {
                line = format!("{line:<32} -");
                if !p.doc().is_empty() {
                    let _ = write!(line, " {}", p.doc());
                }
                if !p.default_text().is_empty() {
                    let _ = write!(line, " (default: {})", p.default_text());
                }
            }
            let _ = writeln!(out, "{line}");
        }
    }
    Ok(out)
}

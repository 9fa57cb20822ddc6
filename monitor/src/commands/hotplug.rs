//! `device_add` and `device_del`, and `device_add TYPE,help`. The
//! operations themselves ([`add`], [`del`]) are shared with QMP.

use super::Failure;
use crate::monitor::Monitor;
use crate::qmp::events::DeviceDeleted;
use qom_devices::DeviceOptions;
use qom_rt::prelude::*;
use std::fmt::Write;

/// Plugs a device (HMP's and QMP's `device_add`): the board's hotplug
/// handler accepts the type, then create, set properties, attach,
/// realize, plug; on error nothing remains. Returns its path.
pub(crate) fn add(
    monitor: &Monitor,
    options: &DeviceOptions,
) -> Result<String, qom_devices::Error> {
    let device = monitor.machine().device_add_options(options)?;
    device.mark_hotplugged();
    Ok(device.canonical_path().unwrap_or_default())
}

/// Unplugs device `id`, or the device at the absolute path `id` (HMP's
/// and QMP's `device_del`): unplug, unrealize, unparent; then
/// `DEVICE_DELETED` goes to every QMP client, with the device's id
/// (none for a device plugged without one) and its path. The event is
/// sent once the device has left the tree: it may still finalize later,
/// when an access in flight drops the last reference.
pub(crate) fn del(monitor: &Monitor, id: &str) -> Result<(), qom_devices::Error> {
    let machine = monitor.machine();
    let peripheral = format!("{}/peripheral/", machine.path());
    let path = if id.starts_with('/') {
        // Its canonical path, for the event; the reference is dropped at
        // once, so that it does not delay finalize.
        qom_rt::resolve_path(id)
            .ok()
            .and_then(|object| object.canonical_path())
            .unwrap_or_else(|| id.to_string())
    } else {
        format!("{peripheral}{id}")
    };
    machine.device_del(id)?;
    // `device_del` returned: the device is unrealized and out of the
    // tree. Say so only if that is what the tree shows.
    if qom_rt::resolve_path(&path).is_err() {
        let event = DeviceDeleted {
            device: path.strip_prefix(&peripheral).map(str::to_string),
            path,
        };
        monitor.events().emit("DEVICE_DELETED", Some(&event));
    }
    Ok(())
}

/// `device_add TYPE,id=ID,prop=value,...` or `device_add TYPE,help`.
pub(super) fn device_add(monitor: &mut Monitor, _: &[&str], spec: &str) -> Result<String, Failure> {
    if spec.is_empty() {
        return Err(Failure::Usage);
    }
    let options = DeviceOptions::parse(spec)?;
    if options.help {
        return Ok(device_help(&options.type_name)?);
    }
    add(monitor, &options)?;
    Ok(String::new())
}

/// `device_del ID`.
pub(super) fn device_del(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [id] = args else {
        return Err(Failure::Usage);
    };
    del(monitor, id)?;
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

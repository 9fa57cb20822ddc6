//! Hotplug: `device_add` and `device_del` as QEMU's monitor does them.
//!
//! `device_add`: create by type name, set properties from strings, attach
//! under `/machine/peripheral/<id>` (or `/machine/peripheral-anon`),
//! realize, plug. Any failure undoes the steps already taken, so nothing
//! stays half-registered. `device_del`: unplug, unrealize, unparent; the
//! device finalizes at its last reference (an in-flight guest access may
//! hold one).

use crate::device::Device;
use crate::error::{Error, Result};
use crate::options::DeviceOptions;
use qom_rt::prelude::*;
use qom_rt::TypeInfo;

/// Plugs devices into a bus (listed as an interface by buses/bridges).
#[qom_rt::interface]
pub trait HotplugHandler {
    /// Refuses a device type that cannot be plugged here. Asked before the
    /// device is created, as QEMU checks the bus type of the device's class
    /// first; `device_add`'s completion offers only the types it accepts.
    fn check_type(&self, device_type: &TypeInfo) -> Result<()>;
    /// Connects a realized device to the bus.
    fn plug(&self, device: &Device) -> Result<()>;
    /// Disconnects it (called before unrealize).
    fn unplug(&self, device: &Device) -> Result<()>;
}

/// Creates, configures, attaches (under `machine`'s `peripheral` or
/// `peripheral-anon` container), realizes and plugs a device through
/// `handler`. Returns the device; on error nothing remains.
pub fn device_add(
    machine: &str,
    options: &DeviceOptions,
    handler: &dyn HotplugHandler,
) -> Result<Owned<Device>> {
    let type_name = &options.type_name;
    let info = qom_rt::type_by_name(type_name)?;
    if !info.is_a(Device::TYPE_INFO) {
        return Err(Error::NotADevice {
            type_name: type_name.clone(),
        });
    }
    if let Some(class) = info.class::<crate::device::DeviceClass>() {
        if !class.user_creatable {
            return Err(Error::NotPluggable {
                type_name: type_name.clone(),
                reason: class.description,
            });
        }
    }
    handler.check_type(info)?;
    let device = qom_rt::new_by_name(type_name)?
        .downcast_owned::<Device>()
        .map_err(|_| Error::NotADevice {
            type_name: type_name.clone(),
        })?;
    for (key, value) in &options.properties {
        device.set_property(key, value)?;
    }
    match &options.id {
        Some(id) => {
            let peripheral = qom_rt::container(&format!("{machine}/peripheral"))?;
            if peripheral.resolve(id).is_ok() {
                return Err(Error::DuplicateId { id: id.clone() });
            }
            peripheral.add_child(id, device.clone())?;
        }
        None => {
            let anon = qom_rt::container(&format!("{machine}/peripheral-anon"))?;
            let n = anon.children().len();
            let name = (n..)
                .map(|i| format!("device[{i}]"))
                .find(|n| anon.resolve(n).is_err());
            anon.add_child(&name.unwrap_or_default(), device.clone())?;
        }
    }
    if let Err(e) = device.realize() {
        device.unparent();
        return Err(e);
    }
    if let Err(e) = handler.plug(&device) {
        device.unrealize();
        device.unparent();
        return Err(e);
    }
    Ok(device)
}

/// Unplugs, unrealizes and unparents the device with `id` under
/// `machine`, or at the absolute path `id` (QEMU's `device_del` takes
/// either: a device plugged without an id has only its path, under
/// `peripheral-anon`). It finalizes at its last reference.
pub fn device_del(machine: &str, id: &str, handler: &dyn HotplugHandler) -> Result<()> {
    let no_such = || Error::NoSuchDevice { id: id.to_string() };
    let object = if id.starts_with('/') {
        let object = qom_rt::resolve_path(id).map_err(|_| no_such())?;
        // Only what `device_add` plugged: a child of `peripheral` or
        // `peripheral-anon`, not a board's own device.
        let path = object.canonical_path().unwrap_or_default();
        let plugged = [
            format!("{machine}/peripheral/"),
            format!("{machine}/peripheral-anon/"),
        ]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix.as_str())
                .is_some_and(|name| !name.contains('/'))
        });
        if !plugged {
            return Err(no_such());
        }
        object
    } else {
        qom_rt::container(&format!("{machine}/peripheral"))?
            .resolve(id)
            .map_err(|_| no_such())?
    };
    let device = object
        .downcast::<Device>()
        .ok_or_else(|| Error::NoSuchDevice { id: id.to_string() })?;
    if !device.hotpluggable() {
        return Err(Error::NotHotpluggable {
            id: id.to_string(),
            type_name: device.type_name().to_string(),
        });
    }
    handler.unplug(device)?;
    device.unrealize();
    device.unparent();
    tracing::info!(target: "qdev", id, "deleted");
    Ok(())
}

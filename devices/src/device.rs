//! The abstract `device` type: realize, unrealize, cold reset and the
//! realized state, with overridable behaviour through [`DeviceImpl`].

use crate::error::{Error, Result};
use crate::memory::MemoryRegion;
use qom_rt::prelude::*;
use qom_rt::{ClassFor, ComputedProperties, ComputedProperty, PropertyGuard};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Behaviour every device type provides. A method a type does not
/// override is inherited from its parent type (the default bodies call the
/// parent type's implementation, as a QOM subclass inherits its parent's
/// class). Override with a plain `impl`; call the parent type's version
/// with `<Parent as DeviceImpl>::realize(&self.parent)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a device: implement `DeviceImpl` for it",
    label = "missing `impl DeviceImpl for {Self}`",
    note = "write `impl devices::DeviceImpl for {Self} {{}}` to take the default realize, unrealize and reset"
)]
pub trait DeviceImpl: ObjectImpl + IsA<Device> {
    /// Whether `device_del` may unplug it while the machine runs.
    const HOTPLUGGABLE: bool = false;
    /// One line describing the device (`DeviceClass::description`).
    const DESCRIPTION: &'static str = "";
    /// Whether `-device` and `device_add` may create it (QEMU's
    /// `user_creatable`); a board's own part says no.
    const USER_CREATABLE: bool = true;

    /// Makes the device usable: check properties, map regions, connect
    /// lines. On error nothing may stay registered.
    fn realize(&self) -> std::result::Result<(), String> {
        parent_device_class::<Self>().map_or(Ok(()), |parent| (parent.realize)(self.upcast()))
    }

    /// Undoes `realize`. Regions owned by the device are disabled by the
    /// device layer after this runs.
    fn unrealize(&self) {
        if let Some(parent) = parent_device_class::<Self>() {
            (parent.unrealize)(self.upcast())
        }
    }

    /// Cold reset: registers back to their datasheet values.
    fn reset(&self) {
        if let Some(parent) = parent_device_class::<Self>() {
            (parent.reset)(self.upcast())
        }
    }
}

fn parent_device_class<T: DeviceImpl>() -> Option<&'static DeviceClass> {
    qom_rt::parent_class::<T, DeviceClass>()
}

/// The device class: the virtual methods and constants of [`DeviceImpl`]
/// as filled for one concrete type.
pub struct DeviceClass {
    realize: fn(&Device) -> std::result::Result<(), String>,
    unrealize: fn(&Device),
    reset: fn(&Device),
    /// See [`DeviceImpl::HOTPLUGGABLE`].
    pub hotpluggable: bool,
    /// See [`DeviceImpl::DESCRIPTION`].
    pub description: &'static str,
    /// See [`DeviceImpl::USER_CREATABLE`].
    pub user_creatable: bool,
}

impl<T: DeviceImpl> ClassFor<T> for DeviceClass {
    const CLASS: Self = DeviceClass {
        realize: |d| d.downcast::<T>().map_or(Ok(()), T::realize),
        unrealize: |d| d.downcast::<T>().map_or((), T::unrealize),
        reset: |d| d.downcast::<T>().map_or((), T::reset),
        hotpluggable: T::HOTPLUGGABLE,
        description: T::DESCRIPTION,
        user_creatable: T::USER_CREATABLE,
    };
}

/// The abstract base of every device (`"device"`).
#[derive(QomObject)]
#[qom(
    name = "device",
    abstract,
    class = DeviceClass,
    interfaces(PropertyGuard, ComputedProperties)
)]
pub struct Device {
    parent: ParentField<Object>,
    realized: AtomicBool,
    /// Plugged by `device_add` while the machine ran (QEMU's
    /// `hotplugged`), rather than from the command line.
    hotplugged: AtomicBool,
    /// Serialises realize/unrealize/reset of this device.
    lifecycle: Mutex<()>,
    /// The most-derived type's name, recorded at init for `info lifetime`:
    /// when this level's finalize hook runs, the subtypes' levels are gone
    /// and the object is a plain `device`.
    born_as: OnceLock<&'static str>,
}

impl ObjectImpl for Device {
    fn init(&self) {
        let name = self.born_as.get_or_init(|| self.type_name());
        crate::lifetime::born(name);
    }
    fn finalize(&self) {
        crate::lifetime::died(self.born_as.get().unwrap_or(&"device"));
    }
}

/// The base behaviour: nothing to realize, unrealize or reset.
impl DeviceImpl for Device {
    fn realize(&self) -> std::result::Result<(), String> {
        Ok(())
    }
    fn unrealize(&self) {}
    fn reset(&self) {}
}

impl Device {
    fn class(&self) -> &'static DeviceClass {
        // Every concrete device type has a class table entry for `device`:
        // the derive requires `DeviceClass: ClassFor<T>` for it.
        ObjectClass::class::<DeviceClass>(self).expect("a concrete device has a device class")
    }

    /// Whether the device is realized.
    pub fn is_realized(&self) -> bool {
        self.realized.load(Ordering::Acquire)
    }

    /// Whether `device_del` may unplug it.
    pub fn hotpluggable(&self) -> bool {
        self.class().hotpluggable
    }

    /// Whether the device was plugged while the machine ran (the
    /// `hotplugged` property).
    pub fn is_hotplugged(&self) -> bool {
        self.hotplugged.load(Ordering::Acquire)
    }

    /// Records that the device was plugged while the machine ran (the
    /// monitor's `device_add` does, as QEMU marks devices created after
    /// machine init).
    pub fn mark_hotplugged(&self) {
        self.hotplugged.store(true, Ordering::Release);
    }

    /// A name for messages: the canonical path, or the type.
    pub fn label(&self) -> String {
        self.canonical_path()
            .unwrap_or_else(|| format!("<{}>", self.type_name()))
    }

    /// Realizes the device (the most-derived `DeviceImpl::realize`).
    /// Realizing a realized device does nothing.
    pub fn realize(&self) -> Result<()> {
        let _guard = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        if self.is_realized() {
            return Ok(());
        }
        (self.class().realize)(self).map_err(|reason| Error::Realize {
            device: self.label(),
            reason,
        })?;
        self.realized.store(true, Ordering::Release);
        tracing::debug!(target: "qdev", device = %self.label(), "realized");
        Ok(())
    }

    /// Unrealizes the device: its own `unrealize`, then its child devices'
    /// (reverse order), then every memory region it declares is disabled,
    /// so guest accesses through them become unassigned.
    pub fn unrealize(&self) {
        let _guard = self.lifecycle.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_realized() {
            return;
        }
        (self.class().unrealize)(self);
        let children = declared_children(self);
        for child in children.iter().rev() {
            if let Some(device) = child.downcast::<Device>() {
                device.unrealize();
            }
            if let Some(region) = child.downcast::<MemoryRegion>() {
                region.set_enabled(false);
            }
        }
        self.realized.store(false, Ordering::Release);
        tracing::debug!(target: "qdev", device = %self.label(), "unrealized");
    }

    /// Cold reset of the device and then of its child devices.
    pub fn reset(&self) {
        (self.class().reset)(self);
        for child in declared_children(self) {
            if let Some(device) = child.downcast::<Device>() {
                device.reset();
            }
        }
    }
}

/// Properties may be set only before realize (QEMU's
/// `qdev_prop_set_after_realize`): every string, typed or link set on a
/// device asks this first.
impl PropertyGuard for Device {
    fn check_set(&self, _property: &str) -> std::result::Result<(), String> {
        if self.is_realized() {
            return Err("the device is realized; properties can only be set before realize".into());
        }
        Ok(())
    }
}

/// qdev's read-only properties on every device, as QEMU 7.2's `qom-list`
/// shows them: `parent_bus` (empty: `qom` has no bus objects for a link
/// to name), `realized`, `hotplugged`, `hotpluggable`. QEMU's `realized`
/// is writable (setting it realizes or unrealizes); `qom` realizes and
/// unrealizes through `-device`, `device_add` and `device_del` only.
impl ComputedProperties for Device {
    fn computed_properties(&self) -> Vec<ComputedProperty> {
        vec![
            ComputedProperty::with_type(
                "parent_bus",
                "link<bus>",
                "the bus the device is plugged into",
                String::new(),
            ),
            ComputedProperty::new(
                "realized",
                "whether the device is realized",
                self.is_realized(),
            ),
            ComputedProperty::new(
                "hotplugged",
                "whether the device was plugged while the machine ran",
                self.is_hotplugged(),
            ),
            ComputedProperty::new(
                "hotpluggable",
                "whether device_del may unplug the device",
                self.hotpluggable(),
            ),
        ]
    }
}

/// The embedded and owned children of an object (not dynamic ones).
fn declared_children(object: &impl ObjectType) -> Vec<Owned<Object>> {
    object
        .children()
        .into_iter()
        .filter(|c| c.kind != qom_rt::ChildEntryKind::Dynamic)
        .filter_map(|c| object.resolve(&c.name).ok())
        .collect()
}

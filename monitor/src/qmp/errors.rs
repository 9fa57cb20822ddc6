//! The errors of the layers below, in QEMU's classes: no object at a
//! path or no device with an id is `DeviceNotFound`, as QEMU reports
//! `Device '...' not found`; everything else is `GenericError`. The
//! description is the layer's own message, which names the object,
//! property and value.

use super::wire::{ErrorClass, QmpError};
use crate::monitor::CommandError;

/// An object-model error.
pub(crate) fn from_qom(e: qom_rt::Error) -> QmpError {
    let class = match e {
        qom_rt::Error::PathNotFound { .. } | qom_rt::Error::PathUnreachable { .. } => {
            ErrorClass::DeviceNotFound
        }
        _ => ErrorClass::GenericError,
    };
    QmpError::new(class, e.to_string())
}

/// A device-library error.
pub(crate) fn from_devices(e: qom_devices::Error) -> QmpError {
    match e {
        qom_devices::Error::Qom(e) => from_qom(e),
        e @ qom_devices::Error::NoSuchDevice { .. } => {
            QmpError::new(ErrorClass::DeviceNotFound, e.to_string())
        }
        e => QmpError::generic(e.to_string()),
    }
}

/// A monitor operation's error line.
pub(crate) fn from_command(e: CommandError) -> QmpError {
    QmpError::generic(e.0)
}

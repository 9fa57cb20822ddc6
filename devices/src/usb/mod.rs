//! USB: the device side of the bus, after QEMU's `hw/usb/core.c`,
//! `desc.c`, `bus.c` and the devices in `dev-hid.c` and `dev-storage.c`.
//!
//! A host controller owns a [`UsbBus`] (named `<id>.0`, as
//! QEMU names `usb0.0`) with a fixed number of ports; a
//! [`UsbDevice`] is plugged into a free port with
//! `device_add usb-kbd,bus=usb0.0`. Transfers are synchronous calls from
//! the controller into the device: a control transfer with its SETUP
//! packet ([`Setup`]), or a data transfer on an endpoint. A device that
//! has nothing to return answers [`UsbError::Nak`] and later calls its
//! wake-up hook, so the controller retries (QEMU's `usb_wakeup`).
//!
//! Devices: [`hid::UsbKbd`] (`usb-kbd`, a HID boot keyboard) and
//! [`storage::UsbStorage`] (`usb-storage`, bulk-only mass storage over a
//! raw image, with the SCSI commands in [`scsi`]).

pub mod bus;
pub mod desc;
pub mod device;
pub mod hid;
pub mod scsi;
pub mod storage;
#[cfg(test)]
mod tests;

pub use crate::models::UsbSpeed;
pub use bus::{UsbBus, UsbHost};
pub use device::{UsbDevice, UsbDeviceImpl};

/// A control transfer's SETUP packet (USB 2.0, 9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Setup {
    /// `bmRequestType`: direction (bit 7), type (5-6), recipient (0-4).
    pub request_type: u8,
    /// `bRequest`.
    pub request: u8,
    /// `wValue`.
    pub value: u16,
    /// `wIndex`.
    pub index: u16,
    /// `wLength`: the most bytes the data stage moves.
    pub length: u16,
}

impl Setup {
    /// Decodes the 8 bytes of a SETUP packet (little endian fields).
    ///
    /// ```
    /// use qom_devices::usb::Setup;
    /// let s = Setup::from_bytes([0x80, 6, 0, 1, 0, 0, 18, 0]);
    /// assert_eq!((s.request, s.value, s.length), (6, 0x100, 18));
    /// assert!(s.is_in());
    /// ```
    pub fn from_bytes(b: [u8; 8]) -> Self {
        Setup {
            request_type: b[0],
            request: b[1],
            value: u16::from_le_bytes([b[2], b[3]]),
            index: u16::from_le_bytes([b[4], b[5]]),
            length: u16::from_le_bytes([b[6], b[7]]),
        }
    }

    /// The packet as a little-endian `u64`, the way an xHCI Setup Stage
    /// TRB carries it immediately.
    pub fn from_u64(v: u64) -> Self {
        Setup::from_bytes(v.to_le_bytes())
    }

    /// Whether the data stage goes device to host.
    pub fn is_in(&self) -> bool {
        self.request_type & 0x80 != 0
    }

    /// `bmRequestType` with the direction bit masked off: type and
    /// recipient, as QEMU's `request >> 8` cases spell them.
    pub fn kind(&self) -> u8 {
        self.request_type & 0x7f
    }
}

/// Standard request codes (USB 2.0, table 9-4).
pub mod request {
    /// `GET_STATUS`.
    pub const GET_STATUS: u8 = 0;
    /// `CLEAR_FEATURE`.
    pub const CLEAR_FEATURE: u8 = 1;
    /// `SET_FEATURE`.
    pub const SET_FEATURE: u8 = 3;
    /// `SET_ADDRESS`.
    pub const SET_ADDRESS: u8 = 5;
    /// `GET_DESCRIPTOR`.
    pub const GET_DESCRIPTOR: u8 = 6;
    /// `GET_CONFIGURATION`.
    pub const GET_CONFIGURATION: u8 = 8;
    /// `SET_CONFIGURATION`.
    pub const SET_CONFIGURATION: u8 = 9;
    /// `GET_INTERFACE`.
    pub const GET_INTERFACE: u8 = 10;
    /// `SET_INTERFACE`.
    pub const SET_INTERFACE: u8 = 11;
}

/// Why a transfer did not complete (QEMU's `USB_RET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsbError {
    /// Nothing to transfer yet; retry after the device wakes up.
    #[error("NAK: the device has no data yet")]
    Nak,
    /// The device refuses the request or the endpoint is halted.
    #[error("STALL: the device refused the request")]
    Stall,
    /// The device had more data than the transfer's buffer.
    #[error("babble: the device sent more than the buffer holds")]
    Babble,
    /// No device answers (detached, or no such endpoint).
    #[error("no device answers")]
    NoDevice,
}

/// The outcome of a transfer: bytes moved, or why not.
pub type UsbResult<T> = Result<T, UsbError>;

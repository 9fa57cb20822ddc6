//! The abstract USB device (`"usb-device"`, QEMU's `USBDevice`): the
//! address and configuration state, the standard requests answered from
//! the device's descriptors (QEMU's `usb_desc_handle_control`), and the
//! hooks a device type implements in [`UsbDeviceImpl`].

use super::desc::{self, Identity, Interface};
use super::request::*;
use super::{Setup, UsbError, UsbResult, UsbSpeed};
use crate::device::{Device, DeviceImpl};
use qom_rt::prelude::*;
use qom_rt::ClassFor;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

/// What a USB device type provides: who it is, its interfaces at a speed,
/// and its class requests and data endpoints. Standard requests are the
/// base type's.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a USB device: implement `UsbDeviceImpl` for it",
    label = "missing `impl UsbDeviceImpl for {Self}`",
    note = "USB devices declare their speeds, identity and interfaces: `impl UsbDeviceImpl for {Self} {{ const SPEEDS: &'static [UsbSpeed] = ..; const IDENTITY: Identity = ..; fn interfaces(..) }}`"
)]
pub trait UsbDeviceImpl: DeviceImpl + IsA<UsbDevice> {
    /// The speeds the device can run at; a port gives it the fastest one
    /// it supports too (QEMU's `usb_desc_attach`).
    const SPEEDS: &'static [UsbSpeed];
    /// IDs and strings.
    const IDENTITY: Identity;
    /// `bmAttributes` of the configuration (bit 5: remote wake-up).
    const CONFIG_ATTRIBUTES: u8 = 0;
    /// The name `info usb` shows (QEMU's `product_desc`): the product
    /// string unless the type says otherwise.
    const PRODUCT: &'static str = Self::IDENTITY.product;

    /// The interfaces of the one configuration at `speed`.
    fn interfaces(&self, speed: UsbSpeed) -> Vec<Interface>;

    /// A class or vendor request, or a standard one the base does not
    /// answer (a HID report descriptor). `data` is the data stage: filled
    /// for IN (return how much), given for OUT.
    fn class_request(&self, setup: &Setup, data: &mut [u8]) -> UsbResult<usize> {
        let _ = (setup, data);
        Err(UsbError::Stall)
    }

    /// An IN transfer on endpoint `ep` (1-15) into `buf`.
    fn data_in(&self, ep: u8, buf: &mut [u8]) -> UsbResult<usize> {
        let _ = (ep, buf);
        Err(UsbError::Stall)
    }

    /// An OUT transfer of `data` on endpoint `ep`.
    fn data_out(&self, ep: u8, data: &[u8]) -> UsbResult<usize> {
        let _ = (ep, data);
        Err(UsbError::Stall)
    }

    /// A bus reset (port reset): back to the state after attach.
    fn usb_reset(&self) {}
}

/// The USB class: [`UsbDeviceImpl`] for one concrete type.
pub struct UsbDeviceClass {
    product: &'static str,
    speeds: &'static [UsbSpeed],
    identity: Identity,
    attributes: u8,
    interfaces: fn(&UsbDevice, UsbSpeed) -> Vec<Interface>,
    class_request: fn(&UsbDevice, &Setup, &mut [u8]) -> UsbResult<usize>,
    data_in: fn(&UsbDevice, u8, &mut [u8]) -> UsbResult<usize>,
    data_out: fn(&UsbDevice, u8, &[u8]) -> UsbResult<usize>,
    usb_reset: fn(&UsbDevice),
}

impl<T: UsbDeviceImpl> ClassFor<T> for UsbDeviceClass {
    const CLASS: Self = UsbDeviceClass {
        product: T::PRODUCT,
        speeds: T::SPEEDS,
        identity: T::IDENTITY,
        attributes: T::CONFIG_ATTRIBUTES,
        interfaces: |d, s| d.downcast::<T>().map_or(Vec::new(), |t| t.interfaces(s)),
        class_request: |d, s, b| {
            d.downcast::<T>()
                .map_or(Err(UsbError::Stall), |t| t.class_request(s, b))
        },
        data_in: |d, e, b| {
            d.downcast::<T>()
                .map_or(Err(UsbError::Stall), |t| t.data_in(e, b))
        },
        data_out: |d, e, b| {
            d.downcast::<T>()
                .map_or(Err(UsbError::Stall), |t| t.data_out(e, b))
        },
        usb_reset: |d| d.downcast::<T>().map_or((), |t| t.usb_reset()),
    };
}

/// Called when a device that answered NAK has data: the controller
/// retries the transfers waiting on it.
pub type Wakeup = Arc<dyn Fn() + Send + Sync>;

/// The abstract base of USB devices (`"usb-device"`).
#[derive(QomObject)]
#[qom(name = "usb-device", abstract, class = UsbDeviceClass)]
#[migrate(version = 1, min_version = 0)]
pub struct UsbDevice {
    parent: ParentField<Device>,
    /// The bus to plug into, `<controller id>.0` (QEMU's `bus=usb0.0`).
    #[property(name = "bus", doc = "USB bus to plug into, e.g. usb0.0")]
    pub bus: Prop<String>,
    /// The speed the port gave it; 0 while detached (`UsbSpeed` index + 1).
    speed: AtomicU8,
    /// The address `SET_ADDRESS` gave it (migrates; the speed is the
    /// destination port's).
    #[migrate]
    address: AtomicU8,
    /// The configuration `SET_CONFIGURATION` chose (migrates).
    #[migrate]
    configuration: AtomicU8,
    wakeup: Mutex<Option<Wakeup>>,
}

impl ObjectImpl for UsbDevice {}

/// Nothing is derived from the address and configuration.
impl qom_rt::migration::MigrationHooks for UsbDevice {}

impl DeviceImpl for UsbDevice {}

impl UsbDeviceImpl for UsbDevice {
    const SPEEDS: &'static [UsbSpeed] = &[];
    const IDENTITY: Identity = Identity {
        vendor_id: 0,
        product_id: 0,
        bcd_device: 0,
        manufacturer: "",
        product: "",
        serial: "",
    };
    fn interfaces(&self, _speed: UsbSpeed) -> Vec<Interface> {
        Vec::new()
    }
}

const SPEEDS: [UsbSpeed; 4] = [
    UsbSpeed::Low,
    UsbSpeed::Full,
    UsbSpeed::High,
    UsbSpeed::Super,
];

impl UsbDevice {
    fn usb_class(&self) -> &'static UsbDeviceClass {
        self.class::<UsbDeviceClass>()
            .expect("every USB device type has a USB class")
    }

    /// What `info usb` calls it ([`UsbDeviceImpl::PRODUCT`]).
    pub fn product(&self) -> &'static str {
        self.usb_class().product
    }

    /// The speeds the device supports.
    pub fn speeds(&self) -> &'static [UsbSpeed] {
        self.usb_class().speeds
    }

    /// The fastest speed both the device and a port with `port_speeds`
    /// support.
    pub fn best_speed(&self, port_speeds: &[UsbSpeed]) -> Option<UsbSpeed> {
        self.speeds()
            .iter()
            .copied()
            .filter(|s| port_speeds.contains(s))
            .max_by_key(|s| SPEEDS.iter().position(|x| x == s))
    }

    /// The speed it runs at, while attached.
    pub fn speed(&self) -> Option<UsbSpeed> {
        match self.speed.load(Ordering::Acquire) {
            0 => None,
            n => SPEEDS.get(usize::from(n) - 1).copied(),
        }
    }

    /// The device is connected to a port at `speed` (`None`: detached).
    /// Address and configuration start over.
    pub fn set_attached(&self, speed: Option<UsbSpeed>, wakeup: Option<Wakeup>) {
        let n = speed
            .and_then(|s| SPEEDS.iter().position(|x| *x == s))
            .map_or(0, |i| i as u8 + 1);
        self.speed.store(n, Ordering::Release);
        *self.wakeup.lock().unwrap_or_else(|e| e.into_inner()) = wakeup;
        self.port_reset();
    }

    /// Asks the controller to retry transfers that were NAKed.
    pub fn wakeup(&self) {
        let hook = self
            .wakeup
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook();
        }
    }

    /// A port reset: address 0, unconfigured, then the type's reset.
    pub fn port_reset(&self) {
        self.address.store(0, Ordering::Release);
        self.configuration.store(0, Ordering::Release);
        (self.usb_class().usb_reset)(self);
    }

    /// The address `SET_ADDRESS` gave it (or an xHCI Address Device).
    pub fn address(&self) -> u8 {
        self.address.load(Ordering::Acquire)
    }

    /// Sets the address, as an xHCI controller does for Address Device
    /// without a `SET_ADDRESS` on the wire.
    pub fn set_address(&self, address: u8) {
        self.address.store(address & 0x7f, Ordering::Release);
    }

    /// The configuration value `SET_CONFIGURATION` chose (0: none).
    pub fn configuration(&self) -> u8 {
        self.configuration.load(Ordering::Acquire)
    }

    /// A control transfer on endpoint 0. For IN, `data` is filled and the
    /// length returned (at most `setup.length` and `data.len()`); for OUT,
    /// `data` holds the data stage.
    pub fn control(&self, setup: &Setup, data: &mut [u8]) -> UsbResult<usize> {
        let speed = self.speed().ok_or(UsbError::NoDevice)?;
        let limit = data.len().min(usize::from(setup.length));
        let reply = |bytes: &[u8], data: &mut [u8]| {
            let n = bytes.len().min(limit);
            data[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        };
        let class = self.usb_class();
        match (setup.request_type, setup.request) {
            (0x80, GET_DESCRIPTOR) => {
                let index = setup.value as u8;
                let bytes = match (setup.value >> 8) as u8 {
                    desc::DT_DEVICE => desc::device(&class.identity, speed),
                    desc::DT_CONFIG if index == 0 => desc::config(
                        &(class.interfaces)(self, speed),
                        class.attributes,
                        50,
                        speed,
                    ),
                    desc::DT_STRING => {
                        desc::string(&class.identity, index).ok_or(UsbError::Stall)?
                    }
                    desc::DT_DEVICE_QUALIFIER if speed == UsbSpeed::High => {
                        desc::device_qualifier(speed)
                    }
                    _ => return Err(UsbError::Stall),
                };
                reply(&bytes, data)
            }
            (0x00, SET_ADDRESS) => {
                self.set_address(setup.value as u8);
                Ok(0)
            }
            (0x00, SET_CONFIGURATION) => {
                if setup.value > 1 {
                    return Err(UsbError::Stall);
                }
                self.configuration
                    .store(setup.value as u8, Ordering::Release);
                Ok(0)
            }
            (0x80, GET_CONFIGURATION) => reply(&[self.configuration()], data),
            // Self-powered: no; remote wake-up: not enabled.
            (0x80..=0x82, GET_STATUS) => reply(&[0, 0], data),
            (0x00 | 0x02, CLEAR_FEATURE | SET_FEATURE) => Ok(0),
            (0x01, SET_INTERFACE) if setup.value == 0 => Ok(0),
            (0x81, GET_INTERFACE) => reply(&[0], data),
            _ => (class.class_request)(self, setup, &mut data[..limit]),
        }
    }

    /// An IN transfer on a data endpoint.
    pub fn data_in(&self, ep: u8, buf: &mut [u8]) -> UsbResult<usize> {
        if self.speed().is_none() {
            return Err(UsbError::NoDevice);
        }
        (self.usb_class().data_in)(self, ep, buf)
    }

    /// An OUT transfer on a data endpoint.
    pub fn data_out(&self, ep: u8, data: &[u8]) -> UsbResult<usize> {
        if self.speed().is_none() {
            return Err(UsbError::NoDevice);
        }
        (self.usb_class().data_out)(self, ep, data)
    }
}

//! The USB bus of a host controller: its ports and the devices in them
//! (QEMU's `USBBus`/`USBPort`), and how `device_add ...,bus=usb0.0` finds
//! the controller behind a bus name.

use super::device::{UsbDevice, Wakeup};
use super::UsbSpeed;
use crate::error::{Error, Result};
use qom_rt::prelude::*;
use std::sync::Mutex;

/// A host controller with a USB bus (listed as an interface).
#[qom_rt::interface]
pub trait UsbHost {
    /// Connects a realized device to a free port; errors say why not.
    fn usb_attach(&self, device: &UsbDevice) -> std::result::Result<(), String>;
    /// Disconnects it; the transfers it had in flight are cancelled.
    fn usb_detach(&self, device: &UsbDevice) -> std::result::Result<(), String>;
    /// The bus, for listings (`info usb`).
    fn usb_bus(&self) -> Option<&UsbBus>;
}

/// The ports of one bus: which speeds each takes and who is plugged in.
pub struct UsbBus {
    speeds: Vec<&'static [UsbSpeed]>,
    ports: Mutex<Vec<Option<Owned<UsbDevice>>>>,
}

impl UsbBus {
    /// A bus whose port `n` (0-based) accepts `speeds[n]`.
    pub fn new(speeds: Vec<&'static [UsbSpeed]>) -> Self {
        let ports = Mutex::new(vec![None; speeds.len()]);
        UsbBus { speeds, ports }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Owned<UsbDevice>>>> {
        self.ports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `device` in the first free port that has a speed in common
    /// with it and tells it the speed and its wake-up hook, which
    /// `wakeup` makes for the port and speed. Returns the port (0-based)
    /// and speed.
    pub fn attach(
        &self,
        device: &UsbDevice,
        wakeup: impl FnOnce(usize, UsbSpeed) -> Wakeup,
    ) -> std::result::Result<(usize, UsbSpeed), String> {
        let mut ports = self.lock();
        if ports
            .iter()
            .flatten()
            .any(|d| std::ptr::eq(d.header(), device.header()))
        {
            return Err("the device is already attached".into());
        }
        let (port, speed) = (0..ports.len())
            .filter(|&n| ports[n].is_none())
            .find_map(|n| Some((n, device.best_speed(self.speeds[n])?)))
            .ok_or_else(|| {
                format!(
                    "no free port of the {} takes a device of speeds {:?}",
                    ports.len(),
                    device.speeds()
                )
            })?;
        ports[port] = Some(Owned::from(device));
        drop(ports);
        device.set_attached(Some(speed), Some(wakeup(port, speed)));
        tracing::info!(target: "usb", port = port + 1, ?speed, device = %device.label(), "attached");
        Ok((port, speed))
    }

    /// Takes `device` out of its port, which is returned.
    pub fn detach(&self, device: &UsbDevice) -> Option<usize> {
        let mut ports = self.lock();
        let port = ports.iter().position(|d| {
            d.as_ref()
                .is_some_and(|d| std::ptr::eq(d.header(), device.header()))
        })?;
        let owned = ports[port].take();
        drop(ports);
        device.set_attached(None, None);
        tracing::info!(target: "usb", port = port + 1, device = %device.label(), "detached");
        drop(owned);
        Some(port)
    }

    /// Empties every port (the controller is going away), breaking the
    /// devices' wake-up hooks back to it.
    pub fn detach_all(&self) -> Vec<usize> {
        let taken: Vec<_> = self
            .lock()
            .iter_mut()
            .enumerate()
            .filter_map(|(n, d)| Some((n, d.take()?)))
            .collect();
        taken
            .into_iter()
            .map(|(n, device)| {
                device.set_attached(None, None);
                n
            })
            .collect()
    }

    /// The device in port `port` (0-based).
    pub fn device(&self, port: usize) -> Option<Owned<UsbDevice>> {
        self.lock().get(port).cloned().flatten()
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        self.speeds.len()
    }

    /// Whether the bus has no ports.
    pub fn is_empty(&self) -> bool {
        self.speeds.is_empty()
    }
}

/// Where a board keeps its own USB controller (`-usb`: the PIIX3's UHCI
/// function on `pc`), under the machine.
pub const BOARD_USB: &str = "piix3-usb-uhci";
/// The bus name of the board's own USB controller, as QEMU names it.
pub const BOARD_USB_BUS: &str = "usb-bus.0";

/// The controller behind bus name `bus` (`usb0.0`: the device `usb0` in
/// `machine`'s peripherals, QEMU's `<id>.0`; `usb-bus.0`: the board's
/// own, with `-usb`), or the only USB controller there is when `bus` is
/// empty.
pub fn find_host(machine: &str, device: &UsbDevice, bus: &str) -> Result<Owned<Object>> {
    let error = |reason: String| Error::UsbBus {
        device: device.label(),
        bus: bus.to_string(),
        reason,
    };
    let peripheral = qom_rt::container(&format!("{machine}/peripheral"))?;
    // The board's own controller (`-usb` on `pc`), whose bus QEMU names
    // `usb-bus.0`.
    let board = qom_rt::resolve_path(&format!("{machine}/{BOARD_USB}")).ok();
    if bus == BOARD_USB_BUS {
        return board
            .ok_or_else(|| error("the machine has no USB controller of its own (-usb)".into()));
    }
    if bus.is_empty() {
        let hosts: Vec<_> = peripheral
            .children()
            .into_iter()
            .filter_map(|c| peripheral.resolve(&c.name).ok())
            .chain(board)
            .filter(|o| o.interface::<dyn UsbHost>().is_some())
            .collect();
        return match <[_; 1]>::try_from(hosts) {
            Ok([host]) => Ok(host),
            Err(v) => Err(error(format!(
                "{} USB controllers: say which with bus=<id>.0",
                v.len()
            ))),
        };
    }
    let id = bus
        .strip_suffix(".0")
        .ok_or_else(|| error("a USB bus is named <controller id>.0".into()))?;
    let host = peripheral
        .resolve(id)
        .map_err(|_| error(format!("no controller with id `{id}`")))?;
    if host.interface::<dyn UsbHost>().is_none() {
        return Err(error(format!(
            "`{id}` ({}) is not a USB controller",
            host.type_name()
        )));
    }
    Ok(host)
}

/// HMP's `info usb` for the machine at `machine`: one line per device on
/// a USB bus, buses numbered in the order `device_add` would find them
/// (the board's own first, then the peripherals by name):
/// `  Device 0.1, Port 1, Speed 480 Mb/s, Product QEMU USB Keyboard, ID: kbd0`.
pub fn info_usb(machine: &str) -> String {
    let mut hosts: Vec<Owned<Object>> = qom_rt::resolve_path(&format!("{machine}/{BOARD_USB}"))
        .into_iter()
        .collect();
    if let Ok(peripheral) = qom_rt::resolve_path(&format!("{machine}/peripheral")) {
        let mut children: Vec<_> = peripheral.children().into_iter().map(|c| c.name).collect();
        children.sort();
        hosts.extend(children.iter().filter_map(|n| peripheral.resolve(n).ok()));
    }
    let buses = hosts
        .iter()
        .filter_map(|h| h.interface::<dyn UsbHost>()?.usb_bus());
    let mut out = String::new();
    for (number, bus) in buses.enumerate() {
        for port in 0..bus.len() {
            let Some(device) = bus.device(port) else {
                continue;
            };
            let speed = match device.speed() {
                Some(UsbSpeed::Low) => "1.5",
                Some(UsbSpeed::Full) => "12",
                Some(UsbSpeed::High) => "480",
                Some(UsbSpeed::Super) => "5000",
                None => "?",
            };
            let id = device.canonical_path().and_then(|p| {
                let (parent, name) = p.rsplit_once('/')?;
                parent
                    .ends_with("/peripheral")
                    .then(|| format!(", ID: {name}"))
            });
            out.push_str(&format!(
                "  Device {number}.{}, Port {}, Speed {speed} Mb/s, Product {}{}\n",
                device.address(),
                port + 1,
                device.product(),
                id.unwrap_or_default()
            ));
        }
    }
    out
}

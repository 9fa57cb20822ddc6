//! What a guest would do: accesses through system memory (`mmio`, `xp`)
//! and virtual time (`clock_step`).

use super::{fail, parse_u64, Action, Command, Failure};
use crate::monitor::Monitor;
use qom_rt::prelude::*;

/// The `mmio` subcommands.
pub(super) static MMIO_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "read",
        aliases: &[],
        synopsis: "ADDR SIZE",
        help: "a guest read; prints the value",
        action: Action::Run {
            handler: read,
            args: &[],
        },
    },
    Command {
        name: "write",
        aliases: &[],
        synopsis: "ADDR SIZE VALUE",
        help: "a guest write",
        action: Action::Run {
            handler: write,
            args: &[],
        },
    },
    Command {
        name: "hold",
        aliases: &[],
        synopsis: "ADDR SIZE",
        help: "start a read and keep it in flight, holding a reference on the region's owner",
        action: Action::Run {
            handler: hold,
            args: &[],
        },
    },
    Command {
        name: "release",
        aliases: &[],
        synopsis: "",
        help: "complete the access held last",
        action: Action::Run {
            handler: release,
            args: &[],
        },
    },
];

/// An access size: 1, 2, 4 or 8.
fn parse_size(text: &str) -> Result<u32, Failure> {
    match parse_u64(text)? {
        n @ (1 | 2 | 4 | 8) => Ok(n as u32),
        _ => fail(format!("access size `{text}` must be 1, 2, 4 or 8")),
    }
}

fn read(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [addr, size] = args else {
        return Err(Failure::Usage);
    };
    let value = monitor
        .machine()
        .system()
        .read(parse_u64(addr)?, parse_size(size)?);
    Ok(format!("{value:#x}\n"))
}

fn write(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [addr, size, value] = args else {
        return Err(Failure::Usage);
    };
    let (addr, size, value) = (parse_u64(addr)?, parse_size(size)?, parse_u64(value)?);
    monitor.machine().system().write(addr, size, value);
    Ok(String::new())
}

fn hold(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [addr, size] = args else {
        return Err(Failure::Usage);
    };
    let (addr, size) = (parse_u64(addr)?, parse_size(size)?);
    let Some(held) = monitor.machine().system().hold(addr, size) else {
        return fail(format!(
            "nothing answers at {addr:#x}: the access would be unassigned"
        ));
    };
    let owner = held
        .owner()
        .canonical_path()
        .unwrap_or_else(|| held.owner().type_name().into());
    monitor.held.push(held);
    Ok(format!(
        "access at {addr:#x} in flight, holding a reference on {owner}\n"
    ))
}

fn release(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage);
    }
    match monitor.held.pop() {
        Some(held) => Ok(format!("access completed: {:#x}\n", held.finish_read())),
        None => fail("no access in flight"),
    }
}

/// `xp ADDR [SIZE]`: a guest read, size 4 by default.
pub(super) fn xp(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let (addr, size) = match args {
        [addr] => (parse_u64(addr)?, 4),
        [addr, size] => (parse_u64(addr)?, parse_size(size)?),
        _ => return Err(Failure::Usage),
    };
    let value = monitor.machine().system().read(addr, size);
    Ok(format!("{addr:016x}: {value:#x}\n"))
}

/// `clock_step NS`: advances every clocked device.
pub(super) fn clock_step(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let [ns] = args else {
        return Err(Failure::Usage);
    };
    let ns = parse_u64(ns)?;
    if monitor.guest().is_some() {
        return fail(
            "clock_step moves virtual time only while no guest runs; with a guest it follows host time",
        );
    }
    let devices = monitor.machine().clock_step(ns)?;
    Ok(format!("advanced {devices} clocked devices by {ns} ns\n"))
}

/// `sendkey KEYS [HOLD_MS]` (HMP's): presses the keys of a combination
/// such as `ctrl-alt-f1` together and releases them, on every USB
/// keyboard plugged (`usb-kbd`). The hold time is accepted and ignored:
/// the keyboard queues the press and the release as two reports.
pub(super) fn sendkey(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let keys = match args {
        [keys] | [keys, _] => *keys,
        _ => return Err(Failure::Usage),
    };
    if let [_, hold] = args {
        parse_u64(hold)?;
    }
    let root = monitor.machine().path().to_string();
    let keyboards: Vec<Owned<Object>> = ["peripheral", "peripheral-anon"]
        .iter()
        .filter_map(|c| qom_rt::resolve_path(&format!("{root}/{c}")).ok())
        .flat_map(|c| {
            c.children()
                .into_iter()
                .filter_map(|child| c.resolve(&child.name).ok())
                .collect::<Vec<_>>()
        })
        .filter(|o| {
            o.downcast::<qom_devices::usb::hid::UsbKbd>()
                .is_some_and(|k| k.upcast::<qom_devices::usb::UsbDevice>().speed().is_some())
        })
        .collect();
    if keyboards.is_empty() {
        return fail(
            "no keyboard to send keys to: sendkey reaches USB keyboards (device_add usb-kbd,bus=usb0.0)",
        );
    }
    for keyboard in &keyboards {
        if let Some(kbd) = keyboard.downcast::<qom_devices::usb::hid::UsbKbd>() {
            if let Err(e) = kbd.send_keys(keys) {
                return fail(e);
            }
        }
    }
    Ok(String::new())
}

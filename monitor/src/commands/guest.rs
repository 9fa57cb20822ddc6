//! What a guest would do: accesses through system memory (`mmio`, `xp`)
//! and virtual time (`clock_step`).

use super::{fail, parse_u64, Action, Command, Failure};
use crate::monitor::Monitor;
use qom_rt::prelude::*;
use std::fmt::Write;

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

/// `xp /FMT ADDR` (QEMU's syntax: `/[COUNT][FORMAT][SIZE]`, format `x`,
/// `d`, `u`, `o` or `c`, size `b`, `h`, `w` or `g`; hex words by
/// default), printed as QEMU's `memory_dump` does: 16 bytes a line (8 for
/// bytes), each line headed by its physical address. The older `xp ADDR
/// [SIZE]` (one read, `ADDR: 0xVALUE`) is kept for existing scripts.
pub(super) fn xp(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let (addr, size) = match args {
        [fmt, addr] if fmt.starts_with('/') => {
            let (count, format, size) = parse_xp_format(fmt)?;
            return Ok(memory_dump(monitor, parse_u64(addr)?, count, format, size));
        }
        [addr] => (parse_u64(addr)?, 4),
        [addr, size] => (parse_u64(addr)?, parse_size(size)?),
        _ => return Err(Failure::Usage),
    };
    let value = monitor.machine().system().read(addr, size);
    Ok(format!("{addr:016x}: {value:#x}\n"))
}

/// `/[COUNT][FORMAT][SIZE]`, letters in either order, as QEMU's
/// `get_fmt`: count 1, hex, 4 bytes unless given (`c` reads bytes).
fn parse_xp_format(fmt: &str) -> Result<(u64, char, u32), Failure> {
    let body = &fmt[1..];
    let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let count = if digits == 0 {
        1
    } else {
        body[..digits]
            .parse::<u64>()
            .ok()
            .filter(|c| (1..=4096).contains(c))
            .ok_or_else(|| {
                Failure::Error(crate::monitor::CommandError(format!(
                    "xp {fmt}: count must be 1-4096"
                )))
            })?
    };
    let (mut format, mut size) = ('x', None);
    for letter in body[digits..].chars() {
        match letter {
            'x' | 'd' | 'u' | 'o' | 'c' => format = letter,
            'b' => size = Some(1),
            'h' => size = Some(2),
            'w' => size = Some(4),
            'g' => size = Some(8),
            other => {
                return fail(format!(
                    "xp {fmt}: invalid char `{other}` in format (formats x d u o c, sizes b h w g)"
                ))
            }
        }
    }
    let size = size.unwrap_or(4);
    Ok((count, format, size))
}

/// QEMU's `memory_dump` for a physical address: `%016x:` then each
/// value, or "Cannot access memory" where nothing decodes the line (and
/// the dump stops there). Like QEMU it reads each line as a buffer, in the widest aligned
/// accesses up to 8 bytes (a device answering only whole registers shows
/// their bytes, as on QEMU), and `c` prints `count * size` bytes one by
/// one (QEMU sizes the dump before `c` narrows the unit to a byte).
fn memory_dump(monitor: &Monitor, addr: u64, count: u64, format: char, size: u32) -> String {
    let total = count * u64::from(size);
    let size = if format == 'c' { 1 } else { size };
    let bits = size * 8;
    let digits = match format {
        'o' => bits.div_ceil(3),
        'u' | 'd' => (bits * 10).div_ceil(33),
        _ => bits / 4,
    } as usize;
    let line_size = if size == 1 { 8 } else { 16 };
    let system = monitor.machine().system();
    let mut out = String::new();
    let (mut at, mut left) = (addr, total);
    while left > 0 {
        let _ = write!(out, "{at:016x}:");
        let line = left.min(line_size);
        let Some(bytes) = read_buffer(system, at, line) else {
            out.push_str(" Cannot access memory\n");
            break;
        };
        for chunk in bytes.chunks(size as usize) {
            let value = chunk.iter().rev().fold(0u64, |v, b| v << 8 | u64::from(*b));
            let _ = match format {
                'o' => {
                    let text = if value == 0 {
                        "0".to_string()
                    } else {
                        format!("0{value:o}")
                    };
                    write!(out, " {text:>digits$}")
                }
                'u' => write!(out, " {value:>digits$}"),
                'd' => {
                    let shift = 64 - bits;
                    let signed = ((value << shift) as i64) >> shift;
                    write!(out, " {signed:>digits$}")
                }
                'c' => write!(out, " {}", printable(value as u8)),
                _ => write!(out, " 0x{value:0digits$x}"),
            };
        }
        out.push('\n');
        at += line;
        left -= line;
    }
    out
}

/// `len` bytes from `addr`, read in the widest naturally aligned accesses
/// up to 8 bytes (QEMU's `address_space_read` splitting a buffer).
/// `None` if any access found nothing to decode it.
fn read_buffer(system: &qom_devices::memory::AddressSpace, addr: u64, len: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut at = addr;
    while at < addr + len {
        let left = addr + len - at;
        let width = [8u64, 4, 2, 1]
            .into_iter()
            .find(|w| *w <= left && at.is_multiple_of(*w))
            .unwrap_or(1);
        let value = system.try_read(at, width as u32)?;
        bytes.extend_from_slice(&value.to_le_bytes()[..width as usize]);
        at += width;
    }
    Some(bytes)
}

/// A byte as QEMU's `monitor_printc`: quoted, escapes for the usual
/// controls, octal for the rest.
fn printable(byte: u8) -> String {
    match byte {
        b'\'' => "'\\''".to_string(),
        b'\\' => "'\\\\'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\r' => "'\\r'".to_string(),
        0x20..=0x7e => format!("'{}'", byte as char),
        _ => format!("'\\x{byte:02x}'"),
    }
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

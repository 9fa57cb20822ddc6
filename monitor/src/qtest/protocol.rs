//! The qtest commands: each line is answered with `OK ...`, `FAIL ...` or
//! (QEMU's spelling for one malformed `write`) `ERR ...`, and interrupt
//! edges on intercepted lines are reported as `IRQ raise N` / `IRQ lower N`
//! lines between the replies.
//!
//! QEMU asserts (and aborts) on a malformed number; a client's input must
//! never bring `qom` down, so here it is a `FAIL` line naming the word.

use qom_devices::irq::IrqLine;
use qom_devices::memory::AddressSpace;
use qom_devices::Machine;
use qom_rt::prelude::*;
use std::sync::Arc;

/// Where `IRQ raise N` / `IRQ lower N` lines go: the server's output,
/// shared with the replies.
pub type IrqSink = Arc<dyn Fn(String) + Send + Sync>;

/// One qtest connection's state on a machine: the device whose interrupt
/// lines are intercepted, if any.
pub struct QtestSession {
    machine: Arc<Machine>,
    irq_sink: IrqSink,
    intercepted: Option<String>,
}

/// Parses a number as C's `strtoull(text, NULL, 0)` does for a whole word
/// (QEMU's `qemu_strtou64`): `0x` for hexadecimal, a leading `0` for octal,
/// decimal otherwise. `None` if the word is not entirely a number.
///
/// ```
/// use qom_monitor::qtest::parse_number;
///
/// assert_eq!(parse_number("0x9000000"), Some(0x900_0000));
/// assert_eq!(parse_number("010"), Some(8));
/// assert_eq!(parse_number("12"), Some(12));
/// assert_eq!(parse_number("0xzz"), None);
/// ```
pub fn parse_number(text: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A failed command: the text after `FAIL `.
type Fail = String;

fn number(word: Option<&&str>, what: &str, command: &str) -> Result<u64, Fail> {
    let word = word.ok_or_else(|| format!("{command}: missing {what}"))?;
    parse_number(word).ok_or_else(|| format!("{command}: {what} `{word}` is not a number"))
}

/// The device types whose interrupt output `irq_intercept_out` can take,
/// by the field that holds it: `qom` has no generic GPIO list, so the
/// lines are found per type.
fn irq_outputs(object: &Object) -> Vec<&IrqLine> {
    if let Some(uart) = object.downcast::<qom_devices::hw::pl011::Pl011>() {
        return vec![&uart.irq];
    }
    if let Some(timer) = object.downcast::<qom_devices::hw::sp804::Sp804>() {
        return vec![&timer.irq];
    }
    if let Some(pci) = object.downcast::<qom_devices::pci::PciDevice>() {
        return vec![&pci.intx];
    }
    Vec::new()
}

impl QtestSession {
    /// A session on `machine`; interrupt notifications go to `irq_sink`.
    pub fn new(machine: Arc<Machine>, irq_sink: IrqSink) -> Self {
        QtestSession {
            machine,
            irq_sink,
            intercepted: None,
        }
    }

    /// Answers one command line (without its newline): the reply line,
    /// with its newline. Interrupt lines raised or lowered by the command
    /// went to the sink before it returns, as QEMU sends them before the
    /// reply.
    pub fn handle(&mut self, line: &str) -> String {
        // QEMU splits on single spaces (`g_strsplit(cmd, " ", 0)`).
        let words: Vec<&str> = line.split(' ').collect();
        match self.command(&words) {
            Ok(reply) => reply,
            Err(fail) => format!("FAIL {fail}\n"),
        }
    }

    fn system(&self) -> &AddressSpace {
        self.machine.system()
    }

    fn command(&mut self, words: &[&str]) -> Result<String, Fail> {
        let name = words.first().copied().unwrap_or_default();
        match name {
            "readb" | "readw" | "readl" | "readq" => {
                let addr = number(words.get(1), "address", name)?;
                let value = self.system().read(addr, access_size(name, 4));
                Ok(format!("OK {value:#018x}\n"))
            }
            "writeb" | "writew" | "writel" | "writeq" => {
                let addr = number(words.get(1), "address", name)?;
                let value = number(words.get(2), "value", name)?;
                self.system().write(addr, access_size(name, 5), value);
                Ok("OK\n".into())
            }
            "inb" | "inw" | "inl" => {
                let port = self.port(words, name)?;
                let io = self.io(name)?;
                let value = io.read(port, access_size(name, 2));
                Ok(format!("OK 0x{value:04x}\n"))
            }
            "outb" | "outw" | "outl" => {
                let port = self.port(words, name)?;
                let value = number(words.get(2), "value", name)?;
                let io = self.io(name)?;
                io.write(port, access_size(name, 3), value);
                Ok("OK\n".into())
            }
            "read" => {
                let addr = number(words.get(1), "address", name)?;
                let len = number(words.get(2), "length", name)?;
                if len == 0 {
                    return Err("read: length 0 (QEMU asserts on it)".into());
                }
                let bytes = self.read_bytes(addr, len)?;
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                Ok(format!("OK 0x{hex}\n"))
            }
            "write" => {
                let addr = number(words.get(1), "address", name)?;
                let len = number(words.get(2), "length", name)?;
                let data = words.get(3).ok_or("write: missing data")?;
                if data.len() < 3 {
                    // QEMU's answer, without the `FAIL` prefix.
                    return Ok("ERR invalid argument size\n".into());
                }
                let bytes = decode_hex(data, len)?;
                self.write_bytes(addr, &bytes);
                Ok("OK\n".into())
            }
            "memset" => {
                let addr = number(words.get(1), "address", name)?;
                let len = number(words.get(2), "length", name)?;
                let pattern = number(words.get(3), "pattern", name)? as u8;
                let bytes = vec![pattern; bounded_len(len)?];
                self.write_bytes(addr, &bytes);
                Ok("OK\n".into())
            }
            "endianness" => Ok("OK little\n".into()),
            "clock_step" => {
                let ns = match words.get(1) {
                    Some(_) => number(words.get(1), "nanoseconds", name)?,
                    None => {
                        return Err(
                            "clock_step without NS: qom keeps no timer deadlines to step to; give the nanoseconds"
                                .into(),
                        )
                    }
                };
                self.step(ns)
            }
            "clock_set" => {
                let target = number(words.get(1), "nanoseconds", name)?;
                // QEMU warps forward only: an earlier time leaves the
                // clock where it is.
                let now = self.machine.clock().now_ns();
                self.step(target.saturating_sub(now))
            }
            "irq_intercept_out" | "irq_intercept_in" => self.intercept(words, name),
            _ => Err(format!("Unknown command '{name}'")),
        }
    }

    fn step(&self, ns: u64) -> Result<String, Fail> {
        self.machine
            .clock_step(ns)
            .map_err(|e| format!("clock_step {ns}: {e}"))?;
        Ok(format!("OK {}\n", self.machine.clock().now_ns()))
    }

    fn port(&self, words: &[&str], name: &str) -> Result<u64, Fail> {
        let port = number(words.get(1), "port", name)?;
        if port > 0xffff {
            return Err(format!("{name}: port {port:#x} is above 0xffff"));
        }
        Ok(port)
    }

    fn io(&self, name: &str) -> Result<&AddressSpace, Fail> {
        self.machine
            .address_spaces()
            .into_iter()
            .find(|space| space.name() == "io")
            .ok_or_else(|| {
                format!(
                    "{name}: machine `{}` has no port-I/O space",
                    self.machine.name()
                )
            })
    }

    /// Reads `len` bytes, each chunk the widest naturally aligned access
    /// up to 4 bytes (the widest most device windows take; QEMU splits by
    /// each region's maximum, which is 4 for the devices compared).
    fn read_bytes(&self, addr: u64, len: u64) -> Result<Vec<u8>, Fail> {
        let len = bounded_len(len)?;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let at = addr.wrapping_add(out.len() as u64);
            let size = chunk(at, len - out.len());
            let value = self.system().read(at, size);
            out.extend_from_slice(&value.to_le_bytes()[..size as usize]);
        }
        Ok(out)
    }

    fn write_bytes(&self, addr: u64, bytes: &[u8]) {
        let mut done = 0;
        while done < bytes.len() {
            let at = addr.wrapping_add(done as u64);
            let size = chunk(at, bytes.len() - done);
            let mut word = [0u8; 8];
            word[..size as usize].copy_from_slice(&bytes[done..done + size as usize]);
            self.system().write(at, size, u64::from_le_bytes(word));
            done += size as usize;
        }
    }

    /// `irq_intercept_out PATH`: the device's interrupt outputs report
    /// their edges as `IRQ raise N` / `IRQ lower N`, N its output's index.
    /// `irq_intercept_in` needs interrupt inputs (an interrupt controller),
    /// which no `qom` device has.
    fn intercept(&mut self, words: &[&str], name: &str) -> Result<String, Fail> {
        let path = words
            .get(1)
            .ok_or_else(|| format!("{name}: missing path"))?;
        let object = qom_rt::resolve_path(path).map_err(|_| "Unknown device".to_string())?;
        if let Some(current) = &self.intercepted {
            if current == path {
                return Ok("OK\n".into());
            }
            return Err("IRQ intercept already enabled".into());
        }
        if name == "irq_intercept_in" {
            return Err(format!(
                "irq_intercept_in {path}: qom models no interrupt inputs (no interrupt controller); use irq_intercept_out on the device raising the line"
            ));
        }
        let lines = irq_outputs(&object);
        if lines.is_empty() {
            return Err(format!(
                "irq_intercept_out {path}: type `{}` has no interrupt output qtest can intercept (pl011, sp804 and PCI functions do)",
                object.type_name()
            ));
        }
        for (n, line) in lines.into_iter().enumerate() {
            let sink = Arc::clone(&self.irq_sink);
            // QEMU reports changes only; `connect` calls with the current
            // level at once, which is not an edge unless it is high.
            let last = std::sync::Mutex::new(false);
            line.connect(move |level| {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if *last != level {
                    *last = level;
                    let edge = if level { "raise" } else { "lower" };
                    sink(format!("IRQ {edge} {n}\n"));
                }
            });
        }
        self.intercepted = Some(path.to_string());
        Ok("OK\n".into())
    }
}

/// The access size a command name implies from its letter at `index`
/// (`readb`: 4, `outw`: 3, ...).
fn access_size(name: &str, index: usize) -> u32 {
    match name.as_bytes().get(index) {
        Some(b'w') => 2,
        Some(b'l') => 4,
        Some(b'q') => 8,
        _ => 1,
    }
}

/// The widest access up to 4 bytes that `addr` is aligned to and that
/// fits in `remaining`.
fn chunk(addr: u64, remaining: usize) -> u32 {
    [4u32, 2, 1]
        .into_iter()
        .find(|&size| addr.is_multiple_of(u64::from(size)) && size as usize <= remaining)
        .unwrap_or(1)
}

/// A length for a buffer: bounded, so that a client cannot make the
/// server allocate without limit.
fn bounded_len(len: u64) -> Result<usize, Fail> {
    const MAX: u64 = 16 << 20;
    if len > MAX {
        return Err(format!("length {len} is above qom's limit of {MAX} bytes"));
    }
    Ok(len as usize)
}

/// QEMU's decoding of `write`'s data: `0x` then two hex digits a byte;
/// missing bytes are 0.
fn decode_hex(data: &str, len: u64) -> Result<Vec<u8>, Fail> {
    let len = bounded_len(len)?;
    let digits = data.get(2..).unwrap_or_default().as_bytes();
    let nibble = |c: u8| -> Result<u8, Fail> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("write: data `{data}` has a non-hex digit `{}`", c as char))
    };
    (0..len)
        .map(|i| match digits.get(2 * i..2 * i + 2) {
            Some([hi, lo]) => Ok(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => Ok(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_as_strtoull_with_base_zero() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("017"), Some(15));
        assert_eq!(parse_number("019"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("-1"), None);
    }

    #[test]
    fn write_data_decodes_as_qemu_pads_it() {
        assert_eq!(decode_hex("0x0102", 3), Ok(vec![1, 2, 0]));
        assert_eq!(decode_hex("0xab", 1), Ok(vec![0xab]));
        assert!(decode_hex("0xzz", 1).is_err());
    }

    #[test]
    fn chunks_are_aligned_and_fit() {
        assert_eq!(chunk(0x1000, 8), 4);
        assert_eq!(chunk(0x1002, 8), 2);
        assert_eq!(chunk(0x1001, 8), 1);
        assert_eq!(chunk(0x1000, 3), 2);
    }
}

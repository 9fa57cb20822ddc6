//! The 256-byte type-0 configuration header and the `addr` property type.

use qom_rt::migration::{MigrateField, Value, VmState};
use qom_rt::PropertyType;
use std::sync::{Mutex, MutexGuard};

/// Offsets in the configuration header.
pub mod reg {
    /// Vendor ID (16 bits).
    pub const VENDOR_ID: usize = 0x00;
    /// Device ID (16 bits).
    pub const DEVICE_ID: usize = 0x02;
    /// Command (16 bits).
    pub const COMMAND: usize = 0x04;
    /// Status (16 bits).
    pub const STATUS: usize = 0x06;
    /// Revision ID (8 bits), then the 24-bit class code.
    pub const REVISION: usize = 0x08;
    /// Header type (8 bits).
    pub const HEADER_TYPE: usize = 0x0e;
    /// Cache line size (byte).
    pub const CACHE_LINE_SIZE: usize = 0x0c;
    /// BAR 0; BAR n at `BAR0 + 4 * n`.
    pub const BAR0: usize = 0x10;
    /// Capabilities pointer (8 bits).
    pub const CAPABILITIES: usize = 0x34;
    /// Interrupt line.
    pub const INTERRUPT_LINE: usize = 0x3c;
    /// Interrupt pin.
    pub const INTERRUPT_PIN: usize = 0x3d;
}

/// Command register: memory space decoding enable.
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Command register: I/O space decoding enable.
pub const COMMAND_IO: u16 = 1 << 0;
/// Command register: bus master enable.
pub const COMMAND_MASTER: u16 = 1 << 2;
/// Command register: INTx emulation disable (the line stays low).
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;
/// Command register: SERR# enable.
pub const COMMAND_SERR: u16 = 1 << 8;
/// Status register: an INTx interrupt is pending (read-only).
pub const STATUS_INTERRUPT: u16 = 1 << 3;

/// The configuration space bytes and which bits the guest may write.
#[derive(Clone)]
pub struct ConfigSpace {
    bytes: [u8; 256],
    writable: [u8; 256],
}

impl Default for ConfigSpace {
    fn default() -> Self {
        ConfigSpace {
            bytes: [0; 256],
            writable: [0; 256],
        }
    }
}

impl ConfigSpace {
    /// Reads `size` bytes (1, 2 or 4) at `offset`, little endian; out of
    /// range reads as all ones.
    pub fn read(&self, offset: usize, size: usize) -> u32 {
        (0..size).fold(0u32, |v, i| {
            let byte = self.bytes.get(offset + i).copied().unwrap_or(0xff);
            v | u32::from(byte) << (8 * i)
        })
    }

    /// A guest write: only writable bits change.
    pub fn write(&mut self, offset: usize, size: usize, value: u32) {
        for i in 0..size {
            let Some(mask) = self.writable.get(offset + i).copied() else {
                return;
            };
            let new = (value >> (8 * i)) as u8;
            let byte = &mut self.bytes[offset + i];
            *byte = (*byte & !mask) | (new & mask);
        }
    }

    /// Sets bytes regardless of write masks (device-side initialisation).
    pub fn set(&mut self, offset: usize, size: usize, value: u32) {
        for i in 0..size {
            self.bytes[offset + i] = (value >> (8 * i)) as u8;
        }
    }

    /// Which bits of `size` bytes at `offset` the guest may write.
    pub fn set_writable(&mut self, offset: usize, size: usize, mask: u32) {
        for i in 0..size {
            self.writable[offset + i] = (mask >> (8 * i)) as u8;
        }
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.read(reg::COMMAND, 2) as u16
    }
}

/// A function's configuration space behind its lock: what migrates of
/// every PCI device (QEMU's `vmstate_pci_device` `config`). The stream
/// carries the 256 bytes, BARs and command register included; the write
/// masks are the device model's, set at realize on both sides.
#[derive(Default)]
pub struct PciConfig(Mutex<ConfigSpace>);

impl PciConfig {
    /// The configuration space, recovering it if a panic poisoned the lock.
    pub fn lock(&self) -> MutexGuard<'_, ConfigSpace> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The registers that say which function this is: vendor and device IDs,
/// revision and class code, header type, subsystem IDs, interrupt pin.
const IDENTITY: [std::ops::Range<usize>; 5] =
    [0x00..0x04, 0x08..0x0c, 0x0e..0x0f, 0x2c..0x30, 0x3d..0x3e];

impl MigrateField for PciConfig {
    type Value = [u8; 256];

    fn save(&self) -> Value {
        self.lock().bytes.to_value()
    }

    /// The stream must be for the same kind of function, as QEMU's
    /// `get_pci_config_device` refuses read-only bits that differ.
    fn check(&self, incoming: &[u8; 256]) -> Result<(), String> {
        let here = self.lock().bytes;
        if IDENTITY
            .iter()
            .all(|r| here[r.clone()] == incoming[r.clone()])
        {
            return Ok(());
        }
        let id = |b: &[u8; 256]| {
            let word = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
            let class = u32::from_le_bytes([b[9], b[10], b[11], 0]);
            format!("{:04x}:{:04x} (class {class:06x})", word(0), word(2))
        };
        Err(format!(
            "the stream's configuration space is for PCI function {}, this one is {}",
            id(incoming),
            id(&here)
        ))
    }

    fn restore(&self, value: [u8; 256]) {
        self.lock().bytes = value;
    }
}

/// The `addr` property of a PCI device: written as QEMU's command line
/// takes it, a slot (`"3"`, `"0x3"`, `"03.0"`) or automatic (`""`,
/// `"auto"`, `"-1"`); read back as QEMU's `qom-get` prints it, the `int32`
/// devfn (slot times 8; `-1` while automatic). The two forms differ, as
/// they do in QEMU: `8` read back means slot 1, and written means slot 8.
/// [`slot_text`](Self::slot_text) is the `03.0` form (`info qtree`).
///
/// ```
/// use qom_devices::pci::PciSlot;
/// use qom_rt::PropertyType;
/// assert_eq!(PciSlot::parse("03.0").unwrap().format(), "24");
/// assert_eq!(PciSlot::parse("auto").unwrap().format(), "-1");
/// assert_eq!(PciSlot::parse("1").unwrap().slot_text(), "01.0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PciSlot(pub Option<u8>);

impl PciSlot {
    /// The slot as QEMU writes it in `info qtree` (`01.0`; `auto`).
    pub fn slot_text(&self) -> String {
        match self.0 {
            Some(n) => format!("{n:02x}.0"),
            None => "auto".into(),
        }
    }
}

impl PropertyType for PciSlot {
    const TYPE_NAME: &'static str = "int32";

    fn parse(text: &str) -> Result<Self, String> {
        let expected = || "a slot number 0-31 in hex (`3`, `0x3`, `03.0`) or `auto`".to_string();
        let text = text.trim();
        if text.is_empty() || text == "auto" || text == "-1" {
            return Ok(PciSlot(None));
        }
        let slot = text.strip_suffix(".0").unwrap_or(text);
        let slot = slot.strip_prefix("0x").unwrap_or(slot);
        match u8::from_str_radix(slot, 16) {
            Ok(n) if n < 32 => Ok(PciSlot(Some(n))),
            _ => Err(expected()),
        }
    }

    fn format(&self) -> String {
        match self.0 {
            Some(n) => (i32::from(n) * 8).to_string(),
            None => "-1".into(),
        }
    }
}

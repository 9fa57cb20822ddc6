//! What the command line says about a machine beyond its name: QEMU's
//! `-m`, `-bios`, `-usb`, `-serial` and `-debugcon`, handed to the board's
//! [`MachineImpl::board_init`](super::MachineImpl::board_init).

use crate::chardev::CharBackend;

/// The options a board is built with. Every field is optional: a board
/// takes its own defaults, and refuses (with an error naming the option)
/// what it cannot do.
///
/// ```
/// use qom_devices::machine::{Machine, MachineOptions};
///
/// let mut options = MachineOptions::default();
/// options.ram_size = Some(64 << 20);
/// let err = Machine::create_with("virt", "/doc-options", &options).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "machine `virt` does not take -m: it has no guest RAM (its devices are driven by the monitor)"
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct MachineOptions {
    /// Guest RAM in bytes (`-m`).
    pub ram_size: Option<u64>,
    /// The firmware image (`-bios FILE`, read by the caller).
    pub firmware: Option<Firmware>,
    /// Add the board's USB controller (`-usb`: the PIIX3's UHCI function
    /// on `pc`).
    pub usb: bool,
    /// Where the first serial port's output goes (`-serial`).
    pub serial: Option<CharBackend>,
    /// Where the debug console's output goes (`-debugcon`); without it a
    /// board has no debug console, as QEMU.
    pub debugcon: Option<CharBackend>,
    /// Let the firmware offer its boot menu (`-boot menu=on`: fw_cfg's
    /// `FW_CFG_BOOT_MENU` on `pc`).
    pub boot_menu: bool,
    /// Block backends devices take by id (`-drive ...,if=none,id=ID`);
    /// any board keeps them, whether or not a device uses them.
    pub drives: Vec<super::Drive>,
    /// Board properties (`-M NAME,PROP=VALUE,...`: `virt`'s `highmem`),
    /// set on the board object before it is built.
    pub properties: Vec<(String, String)>,
}

/// A firmware image and where it came from (for messages).
#[derive(Clone, Debug)]
pub struct Firmware {
    /// The file it was read from, as given.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl MachineOptions {
    /// The command-line spelling of each option that is set, for a board
    /// that takes none of them.
    pub fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        for (set, name) in [
            (self.ram_size.is_some(), "-m"),
            (self.firmware.is_some(), "-bios"),
            (self.usb, "-usb"),
            (self.serial.is_some(), "-serial"),
            (self.debugcon.is_some(), "-debugcon"),
            (self.boot_menu, "-boot menu=on"),
        ] {
            if set {
                given.push(name);
            }
        }
        given
    }
}

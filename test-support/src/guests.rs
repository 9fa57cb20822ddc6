//! Small x86 guests for the KVM tests and benchmarks, assembled from
//! `guests/*.S` by this crate's build script with GNU as and ld
//! (binutils): 64 KiB BIOS images a `pc` runs as `-bios`.
//!
//! - `bar_reader`: programs the xHCI controller's BAR 0 in slot 2 and
//!   reads it in a loop, counting reads served and unassigned;
//! - `bench`: 1,000,000 port reads of isa-debugcon, 1,000,000 MMIO reads
//!   of the xHCI BAR, then exits through `isa-debug-exit` (both from
//!   `guests/bar_reader.S`);
//! - `reset_probe`: prints the in-kernel PIC, IOAPIC and PIT state it
//!   finds on isa-debugcon, changes it and halts (`guests/reset_probe.S`);
//! - `pci_dump`: prints the configuration space of 00:02.0 on
//!   isa-debugcon, one dword a line, then halts (`guests/pci_dump.S`);
//! - `counter`: counts, printing each count on isa-debugcon and
//!   checking 1,024 pages of RAM it writes, for migration tests
//!   (`guests/counter.S`);
//! - `usb_boot`: a 512-byte boot sector (not a BIOS image) that SeaBIOS
//!   boots from a USB disk: INT 13h reads checked against a pattern, a
//!   write, then halt, stream reads or timed reads (`guests/usb_boot.S`).

use std::path::PathBuf;

/// Where guest `name` was built (`bar_reader`, `bench`, `reset_probe`,
/// `pci_dump`, `counter`, `usb_boot`), or why the
/// guests were not built (binutils missing): a test prints that it
/// skipped and why.
///
/// ```
/// match qom_test_support::guests::path("bar_reader") {
///     Ok(path) => assert_eq!(std::fs::metadata(path).unwrap().len(), 0x1_0000),
///     Err(why) => eprintln!("skipped: {why}"),
/// }
/// ```
pub fn path(name: &str) -> Result<PathBuf, String> {
    let error = env!("QOM_GUESTS_ERROR");
    if !error.is_empty() {
        return Err(format!("test guests not built: {error}"));
    }
    let path = PathBuf::from(env!("QOM_GUESTS_DIR")).join(format!("{name}.bin"));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "no test guest `{name}` ({} is missing)",
            path.display()
        ))
    }
}

/// Sectors of the USB test disk (4 MiB, as the reference captures use).
pub const USB_DISK_SECTORS: usize = 8192;

/// Byte `i` of sector `lba` (1-8) of the USB test disk: what `usb_boot`
/// checks.
pub fn usb_pattern(lba: usize, i: usize) -> u8 {
    (lba * 13 + 1 + 7 * i) as u8
}

/// Byte `i` of the block `usb_boot` writes to LBA 9.
pub fn usb_written(i: usize) -> u8 {
    (3 * i) as u8 ^ 0x5a
}

/// The USB test disk: `usb_boot` in sector 0 in `mode` (0 halt, 1 stream
/// reads, 2 timed reads), the pattern in sectors 1-8, zeros elsewhere.
pub fn usb_disk(mode: u8) -> Result<Vec<u8>, String> {
    let boot = std::fs::read(path("usb_boot")?).map_err(|e| format!("usb_boot.bin: {e}"))?;
    if boot.len() != 512 {
        return Err(format!("usb_boot.bin is {} bytes, not 512", boot.len()));
    }
    let mut disk = vec![0u8; USB_DISK_SECTORS * 512];
    disk[..512].copy_from_slice(&boot);
    disk[0x1f0] = mode;
    for lba in 1..=8 {
        for i in 0..512 {
            disk[lba * 512 + i] = usb_pattern(lba, i);
        }
    }
    Ok(disk)
}

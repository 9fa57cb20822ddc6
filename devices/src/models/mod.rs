//! Register-level device models, independent of the object framework.
//!
//! Each model is a plain register file behind a [`std::sync::Mutex`]: it is
//! `Send + Sync`, every access method takes `&self`, and the QOM wrappers in
//! [`crate::hw`] only forward guest accesses to it. The xHCI model also has
//! a data path: it reaches guest memory, the USB devices on its bus
//! ([`crate::usb::UsbDevice`], the one QOM type it names) and its
//! interrupt through the [`xhci::XhciBus`] its wrapper hands it. Behaviour follows QEMU's
//! own models (the file each module names); the places where a model
//! deliberately differs are listed in its module documentation.
//!
//! Guest-visible events are reported as `tracing` events with the model's
//! name as target (`pl011`, `sp804`, `xhci`, `uhci`), in the spirit of
//! QEMU's trace points.
//!
//! # Access sizes
//!
//! Every model accepts 1, 2, 4 and 8 byte accesses; any other size reads as
//! 0 and writes are dropped. An access wider than the model's register width
//! is split into register-wide pieces, little endian, lowest address first.
//! A narrower read returns the addressed byte lanes of the register that
//! contains the offset. What a narrower write does depends on the bus the
//! device sits on and is documented per model.

pub mod pl011;
pub mod sp804;
pub mod uhci;
pub mod xhci;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Speed of a USB device attached to a root hub port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsbSpeed {
    /// Low speed, 1.5 Mbit/s (USB 1.x).
    Low,
    /// Full speed, 12 Mbit/s (USB 1.x).
    Full,
    /// High speed, 480 Mbit/s (USB 2.0).
    High,
    /// SuperSpeed, 5 Gbit/s (USB 3.x).
    Super,
}

/// Locks `mutex`, recovering the state if another thread panicked while
/// holding it: a register file stays usable after a test assertion failed
/// on another thread.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `size` is an access size the models accept.
fn valid_size(size: u32) -> bool {
    matches!(size, 1 | 2 | 4 | 8)
}

/// The low `size` bytes of a value.
fn size_mask(size: u32) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    }
}

/// Bit position of the byte lane `offset` addresses in a `width`-byte
/// register.
fn lane_shift(offset: u64, width: u32) -> u32 {
    // `offset % width` is below 8, so the product fits.
    8 * (offset % u64::from(width)) as u32
}

/// Splits a guest read into register-wide reads.
///
/// `read_reg` receives the aligned offset of one `width`-byte register and
/// returns its value; narrower accesses get the addressed byte lanes. An
/// offset inside a register is rounded down to the register.
pub(crate) fn read_sized(
    offset: u64,
    size: u32,
    width: u32,
    mut read_reg: impl FnMut(u64) -> u64,
) -> u64 {
    if !valid_size(size) {
        return 0;
    }
    let base = offset - offset % u64::from(width);
    if size >= width {
        let mut value = 0;
        for piece in 0..size / width {
            let at = base + u64::from(piece * width);
            value |= (read_reg(at) & size_mask(width)) << (8 * piece * width);
        }
        return value;
    }
    (read_reg(base) >> lane_shift(offset, width)) & size_mask(size)
}

/// Splits a guest write into register-wide writes for a bus without byte
/// enables (AMBA APB): a narrower write is shifted into its byte lane and
/// written to the whole register, the other lanes as zero. For the lowest
/// lane this is exactly QEMU's behaviour (`impl.min_access_size = 4`).
pub(crate) fn write_sized(
    offset: u64,
    size: u32,
    value: u64,
    width: u32,
    mut write_reg: impl FnMut(u64, u64),
) {
    if !valid_size(size) {
        return;
    }
    let base = offset - offset % u64::from(width);
    if size >= width {
        for piece in 0..size / width {
            let at = base + u64::from(piece * width);
            write_reg(at, (value >> (8 * piece * width)) & size_mask(width));
        }
        return;
    }
    write_reg(base, (value & size_mask(size)) << lane_shift(offset, width));
}

/// Read-modify-write for a bus with byte enables (PCI): the bytes a narrow
/// write does not address keep the value of `old`.
fn merge_lanes(old: u64, offset: u64, size: u32, value: u64, width: u32) -> u64 {
    let shift = lane_shift(offset, width);
    let mask = size_mask(size) << shift;
    (old & !mask) | ((value << shift) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_reads_split_little_endian() {
        let value = read_sized(0x10, 8, 4, |reg| reg);
        assert_eq!(value, 0x14_0000_0010);
    }

    #[test]
    fn narrow_reads_take_their_lane() {
        assert_eq!(read_sized(0x2, 2, 4, |_| 0x0100_0040), 0x0100);
        assert_eq!(read_sized(0x1, 1, 4, |_| 0x0000_ab00), 0xab);
        assert_eq!(read_sized(0x0, 3, 4, |_| 1), 0, "invalid size");
    }

    #[test]
    fn narrow_apb_writes_zero_the_other_lanes() {
        let mut seen = Vec::new();
        write_sized(0x31, 1, 0x3, 4, |reg, v| seen.push((reg, v)));
        write_sized(0x8, 8, 0x1_0000_0002, 4, |reg, v| seen.push((reg, v)));
        assert_eq!(seen, [(0x30, 0x300), (0x8, 2), (0xc, 1)]);
    }

    #[test]
    fn merges_keep_unaddressed_bytes() {
        assert_eq!(merge_lanes(0x1234, 1, 1, 0xab, 2), 0xab34);
        assert_eq!(merge_lanes(0x1234, 0, 1, 0xab, 2), 0x12ab);
    }
}

//! MSI-X (PCI 3.0, section 6.8.2; QEMU's `hw/pci/msix.c`): the
//! capability in configuration space and the vector table and pending
//! bit array a device places in one of its BARs.

use super::config::{reg, ConfigSpace};
use super::device::PciDevice;
use std::sync::Mutex;

/// Capability ID of MSI-X.
pub const CAP_ID: u8 = 0x11;
/// Message control: MSI-X enable.
pub const ENABLE: u16 = 1 << 15;
/// Message control: function mask.
pub const FUNCTION_MASK: u16 = 1 << 14;
/// Vector control: masked.
const ENTRY_MASKED: u32 = 1;
/// Status register: capabilities list present.
const STATUS_CAP_LIST: u32 = 1 << 4;

/// Adds an MSI-X capability at `offset` for `vectors` vectors whose
/// table is at `table` and pending bits at `pba` in BAR `bar`, linked in
/// front of the capability list (as QEMU's `pci_add_capability`).
pub fn add_capability(
    config: &mut ConfigSpace,
    offset: usize,
    vectors: u16,
    bar: u32,
    table: u32,
    pba: u32,
) {
    let next = config.read(reg::CAPABILITIES, 1);
    config.set(offset, 1, CAP_ID.into());
    config.set(offset + 1, 1, next);
    config.set(offset + 2, 2, u32::from(vectors - 1));
    config.set(offset + 4, 4, table | bar);
    config.set(offset + 8, 4, pba | bar);
    config.set_writable(offset + 2, 2, u32::from(ENABLE | FUNCTION_MASK));
    config.set(reg::CAPABILITIES, 1, offset as u32);
    let status = config.read(reg::STATUS, 2);
    config.set(reg::STATUS, 2, status | STATUS_CAP_LIST);
}

/// The vector table and pending bits (16 bytes per vector; the pending
/// bits as 64-bit words).
pub struct MsixTable {
    /// Where the capability is in configuration space.
    cap: usize,
    entries: Mutex<(Vec<[u32; 4]>, u64)>,
}

impl MsixTable {
    /// A table of `vectors` (at most 64) entries, all masked, for the
    /// capability at `cap`.
    pub fn new(cap: usize, vectors: usize) -> Self {
        let vectors = vectors.min(64);
        MsixTable {
            cap,
            entries: Mutex::new((vec![[0, 0, 0, ENTRY_MASKED]; vectors], 0)),
        }
    }

    /// Every entry (address low, address high, data, vector control) and
    /// the pending bits, for migration.
    pub fn entries(&self) -> (Vec<[u32; 4]>, u64) {
        self.lock().clone()
    }

    /// Replaces the entries present in `entries` (the rest keep their
    /// values) and the pending bits, for migration.
    pub fn set_entries(&self, entries: &[[u32; 4]], pending: u64) {
        let mut table = self.lock();
        for (entry, value) in table.0.iter_mut().zip(entries) {
            *entry = *value;
        }
        table.1 = pending;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<[u32; 4]>, u64)> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Back to the reset state: every vector masked, nothing pending.
    pub fn reset(&self) {
        let mut e = self.lock();
        e.0.iter_mut().for_each(|v| *v = [0, 0, 0, ENTRY_MASKED]);
        e.1 = 0;
    }

    /// Whether the guest enabled MSI-X on `pci`.
    pub fn enabled(&self, pci: &PciDevice) -> bool {
        pci.config_read(self.cap + 2, 2) as u16 & ENABLE != 0
    }

    fn function_masked(&self, pci: &PciDevice) -> bool {
        pci.config_read(self.cap + 2, 2) as u16 & FUNCTION_MASK != 0
    }

    /// A dword read of the table (`offset` from its start).
    pub fn read_table(&self, offset: u64) -> u32 {
        let e = self.lock();
        let (n, field) = ((offset / 16) as usize, ((offset % 16) / 4) as usize);
        e.0.get(n).map_or(0, |entry| entry[field])
    }

    /// A dword write of the table; unmasking a vector with its pending
    /// bit set sends the message now.
    pub fn write_table(&self, pci: &PciDevice, offset: u64, value: u32) {
        let (n, field) = ((offset / 16) as usize, ((offset % 16) / 4) as usize);
        {
            let mut e = self.lock();
            let Some(entry) = e.0.get_mut(n) else {
                return;
            };
            entry[field] = if field == 3 {
                value & ENTRY_MASKED
            } else {
                value
            };
        }
        self.deliver_pending(pci);
    }

    /// A dword read of the pending bit array.
    pub fn read_pba(&self, offset: u64) -> u32 {
        let pending = self.lock().1;
        match offset {
            0 => pending as u32,
            4 => (pending >> 32) as u32,
            _ => 0,
        }
    }

    /// Sends the pending messages whose vectors are no longer masked.
    pub fn deliver_pending(&self, pci: &PciDevice) {
        if !self.enabled(pci) || self.function_masked(pci) {
            return;
        }
        let ready: Vec<usize> = {
            let e = self.lock();
            (0..e.0.len())
                .filter(|&n| e.1 & (1 << n) != 0 && e.0[n][3] & ENTRY_MASKED == 0)
                .collect()
        };
        for n in ready {
            self.lock().1 &= !(1 << n);
            self.notify(pci, n);
        }
    }

    /// Vector `n` fires (QEMU's `msix_notify`): the message goes out, or
    /// its pending bit is set while it or the function is masked.
    pub fn notify(&self, pci: &PciDevice, n: usize) {
        let message = {
            let mut e = self.lock();
            let Some(entry) = e.0.get(n).copied() else {
                return;
            };
            if entry[3] & ENTRY_MASKED != 0 || self.function_masked(pci) {
                e.1 |= 1 << n;
                return;
            }
            (u64::from(entry[0]) | (u64::from(entry[1]) << 32), entry[2])
        };
        if !pci.send_msi(message.0, message.1) {
            tracing::debug!(target: "pci", device = %pci.label(), vector = n, "MSI-X message not delivered");
        }
    }
}

//! Byte-buffer accesses to an address space, as QEMU's `address_space_rw`:
//! how a device reads and writes guest memory (DMA). Host memory is copied
//! directly; I/O regions in the way get register-sized accesses, as the
//! memory core splits them.

use super::address_space::{Access, AddressSpace};
use super::region::RegionKind;

/// A transfer reached an address nothing answers (QEMU's
/// `MEMTX_DECODE_ERROR`). The bytes before `addr` were transferred; a read
/// fills the rest of the buffer with `0xff`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{space}: no memory at {addr:#x} ({len} bytes not transferred)")]
pub struct MemTxError {
    /// The address space.
    pub space: String,
    /// The first address that failed.
    pub addr: u64,
    /// Bytes not transferred.
    pub len: usize,
}

impl AddressSpace {
    /// Reads `buf.len()` bytes from `addr` on.
    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemTxError> {
        let result = self.transfer(addr, buf.len(), |at, done, size, access| {
            let value = access(at, size, Access::Read)?;
            let bytes = &value.to_le_bytes()[..size as usize];
            buf[done..done + bytes.len()].copy_from_slice(bytes);
            Some(())
        });
        if let Err(e) = &result {
            let failed = buf.len() - e.len;
            buf[failed..].fill(0xff);
        }
        result
    }

    /// Writes `buf` from `addr` on; bytes for read-only memory are dropped.
    pub fn write_bytes(&self, addr: u64, buf: &[u8]) -> Result<(), MemTxError> {
        self.transfer(addr, buf.len(), |at, done, size, access| {
            let mut value = [0u8; 8];
            value[..size as usize].copy_from_slice(&buf[done..done + size as usize]);
            access(at, size, Access::Write(u64::from_le_bytes(value))).map(|_| ())
        })
    }

    /// Walks `[addr, addr + len)` range by range. Host memory is handed to
    /// `step` in 8-byte pieces (then single bytes for the tail); I/O
    /// regions in the largest naturally aligned size they accept.
    fn transfer(
        &self,
        addr: u64,
        len: usize,
        mut step: impl FnMut(u64, usize, u32, &dyn Fn(u64, u32, Access) -> Option<u64>) -> Option<()>,
    ) -> Result<(), MemTxError> {
        let view = self.current_view();
        let mut done = 0usize;
        while done < len {
            let at = addr.wrapping_add(done as u64);
            let fail = || MemTxError {
                space: self.name().to_string(),
                addr: at,
                len: len - done,
            };
            let Some(range) = view.lookup(at) else {
                self.unassigned(None);
                return Err(fail());
            };
            let memory = matches!(range.region.kind(), RegionKind::Ram | RegionKind::Rom);
            let max = if memory {
                8
            } else {
                range.region.valid_sizes().max.min(8)
            };
            let left = (len - done) as u64;
            let size = [8u64, 4, 2, 1]
                .into_iter()
                .find(|&s| s <= u64::from(max) && s <= left && (memory || at.is_multiple_of(s)))
                .unwrap_or(1)
                .min(range.end - at) as u32;
            let size = if size.is_power_of_two() { size } else { 1 };
            let offset = at - range.start + range.offset_in_region;
            let access = |_: u64, size: u32, access: Access| {
                if memory {
                    self.memory_access(&range.region, offset, size, access, range.readonly)
                } else {
                    self.io_access(&range.region, offset, size, access)
                }
            };
            step(at, done, size, &access).ok_or_else(fail)?;
            done += size as usize;
        }
        Ok(())
    }
}

//! Byte-buffer accesses to an address space, as QEMU's `address_space_rw`:
//! how a device reads and writes guest memory (DMA). Host memory (RAM,
//! ROM) is copied in whole runs, one copy per contiguous range of the
//! view, as QEMU's `flatview_read_continue` memcpys; I/O regions in the
//! way get register-sized accesses, as the memory core splits them.

use super::address_space::{Access, AddressSpace};
use super::ram::RamBlock;
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

/// One piece of a transfer, as the walk hands it to the copy.
enum Piece<'a> {
    /// `len` bytes of host memory at `offset` in `block`.
    Ram {
        block: &'a RamBlock,
        offset: u64,
        len: usize,
        readonly: bool,
    },
    /// One access of `size` bytes to an I/O region.
    Io {
        size: u32,
        access: &'a dyn Fn(u32, Access) -> Option<u64>,
    },
}

impl AddressSpace {
    /// Reads `buf.len()` bytes from `addr` on.
    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemTxError> {
        let result = self.transfer(addr, buf.len(), |done, piece| match piece {
            Piece::Ram {
                block, offset, len, ..
            } => block
                .read(offset, &mut buf[done..done + len])
                .then_some(len),
            Piece::Io { size, access } => {
                let value = access(size, Access::Read)?;
                let bytes = &value.to_le_bytes()[..size as usize];
                buf[done..done + bytes.len()].copy_from_slice(bytes);
                Some(size as usize)
            }
        });
        if let Err(e) = &result {
            let failed = buf.len() - e.len;
            buf[failed..].fill(0xff);
        }
        result
    }

    /// Writes `buf` from `addr` on; bytes for read-only memory are dropped.
    pub fn write_bytes(&self, addr: u64, buf: &[u8]) -> Result<(), MemTxError> {
        self.transfer(addr, buf.len(), |done, piece| match piece {
            Piece::Ram {
                readonly: true,
                len,
                ..
            } => {
                tracing::trace!(target: "memory", len, "DMA write to read-only memory dropped");
                Some(len)
            }
            Piece::Ram {
                block, offset, len, ..
            } => block.write(offset, &buf[done..done + len]).then_some(len),
            Piece::Io { size, access } => {
                let mut value = [0u8; 8];
                value[..size as usize].copy_from_slice(&buf[done..done + size as usize]);
                access(size, Access::Write(u64::from_le_bytes(value))).map(|_| size as usize)
            }
        })
    }

    /// Walks `[addr, addr + len)` range by range: host memory is handed
    /// to `step` as one piece per range, I/O regions access by access in
    /// the largest naturally aligned size they accept. `step` answers how
    /// many bytes it moved, or `None` if they went nowhere.
    fn transfer(
        &self,
        addr: u64,
        len: usize,
        mut step: impl FnMut(usize, Piece<'_>) -> Option<usize>,
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
            let offset = at - range.start + range.offset_in_region;
            let left = (len - done) as u64;
            let memory = matches!(range.region.kind(), RegionKind::Ram | RegionKind::Rom);
            let moved = if memory {
                let Some(block) = range
                    .region
                    .ram_block()
                    .filter(|_| range.region.is_enabled())
                else {
                    self.unassigned(Some(&range.region));
                    return Err(fail());
                };
                let run = left.min(range.end - at) as usize;
                let piece = Piece::Ram {
                    block,
                    offset,
                    len: run,
                    readonly: range.readonly,
                };
                step(done, piece)
            } else {
                let max = range.region.valid_sizes().max.min(8);
                let size = [8u64, 4, 2, 1]
                    .into_iter()
                    .find(|&s| s <= u64::from(max) && s <= left && at.is_multiple_of(s))
                    .unwrap_or(1)
                    .min(range.end - at) as u32;
                let size = if size.is_power_of_two() { size } else { 1 };
                let access =
                    |size: u32, access: Access| self.io_access(&range.region, offset, size, access);
                step(
                    done,
                    Piece::Io {
                        size,
                        access: &access,
                    },
                )
            };
            match moved {
                Some(n) if n > 0 => done += n,
                _ => {
                    // An I/O access that went nowhere was counted as
                    // unassigned by `io_access` already.
                    if memory {
                        self.unassigned(Some(&range.region));
                    }
                    return Err(fail());
                }
            }
        }
        Ok(())
    }
}

//! The SCSI disk behind `usb-storage` (the commands of QEMU's
//! `hw/scsi/scsi-disk.c` that firmware and simple drivers send): TEST
//! UNIT READY, REQUEST SENSE, INQUIRY, READ CAPACITY(10), MODE SENSE(10)
//! with the rigid disk geometry page, READ(10) and WRITE(10), over a raw
//! image file in 512-byte blocks. Anything else is CHECK CONDITION with
//! ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE sense.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Block size.
pub const BLOCK: u64 = 512;
/// Status: good.
pub const GOOD: u8 = 0;
/// Status: check condition (sense data waiting).
pub const CHECK_CONDITION: u8 = 2;

/// Sense: illegal request, invalid command operation code.
const INVALID_OPCODE: (u8, u8, u8) = (0x05, 0x20, 0x00);
/// Sense: illegal request, logical block address out of range.
const LBA_OUT_OF_RANGE: (u8, u8, u8) = (0x05, 0x21, 0x00);
/// Sense: illegal request, invalid field in CDB.
const INVALID_FIELD: (u8, u8, u8) = (0x05, 0x24, 0x00);
/// Sense: medium error, unrecovered read error (the image could not be
/// read or written).
const MEDIUM_ERROR: (u8, u8, u8) = (0x03, 0x11, 0x00);

/// What a command needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Data for the host, then `status`.
    DataIn(Vec<u8>, u8),
    /// `blocks` blocks of data from the host, to write at `lba`.
    DataOut {
        /// First block.
        lba: u64,
        /// Number of blocks.
        blocks: u64,
    },
    /// No data stage.
    Status(u8),
}

/// A disk over a raw image.
pub struct ScsiDisk {
    file: File,
    sectors: u64,
    sense: (u8, u8, u8),
}

fn be16(b: &[u8]) -> u64 {
    u64::from(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(b: &[u8]) -> u64 {
    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

impl ScsiDisk {
    /// The sense data (key, ASC, ASCQ) `REQUEST SENSE` reports next.
    pub(crate) fn sense(&self) -> (u8, u8, u8) {
        self.sense
    }

    /// Restores migrated sense data.
    pub(crate) fn set_sense(&mut self, sense: (u8, u8, u8)) {
        self.sense = sense;
    }

    /// A disk of `file`'s size in whole blocks.
    pub fn new(file: File) -> std::io::Result<Self> {
        let sectors = file.metadata()?.len() / BLOCK;
        Ok(ScsiDisk {
            file,
            sectors,
            sense: (0, 0, 0),
        })
    }

    /// Number of 512-byte blocks.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    fn fail(&mut self, sense: (u8, u8, u8)) -> Reply {
        self.sense = sense;
        Reply::Status(CHECK_CONDITION)
    }

    /// Blocks `lba..lba + blocks` lie on the disk.
    fn in_range(&self, lba: u64, blocks: u64) -> bool {
        lba.checked_add(blocks)
            .is_some_and(|end| end <= self.sectors)
    }

    /// Starts the command in `cdb` (6 to 16 bytes).
    pub fn execute(&mut self, cdb: &[u8]) -> Reply {
        let mut cdb16 = [0u8; 16];
        let n = cdb.len().min(16);
        cdb16[..n].copy_from_slice(&cdb[..n]);
        let cdb = &cdb16;
        tracing::trace!(target: "usb-storage", opcode = cdb[0], "scsi command");
        let data = |bytes: Vec<u8>, alloc: u64| {
            let mut bytes = bytes;
            bytes.truncate(alloc as usize);
            Reply::DataIn(bytes, GOOD)
        };
        match cdb[0] {
            0x00 => Reply::Status(GOOD),
            0x03 => {
                let (key, asc, ascq) = std::mem::take(&mut self.sense);
                let mut s = vec![
                    0x70, 0, key, 0, 0, 0, 0, 10, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0,
                ];
                s.truncate(usize::from(cdb[4]));
                Reply::DataIn(s, GOOD)
            }
            0x12 => {
                if cdb[1] & 1 != 0 {
                    return self.fail(INVALID_FIELD); // no vital product data pages
                }
                let mut d = vec![0, 0, 5, 2, 31, 0, 0, 0x02];
                d.extend(b"QEMU    QEMU HARDDISK   2.5+");
                data(d, be16(&cdb[3..]))
            }
            0x25 => {
                let last = self.sectors.saturating_sub(1).min(0xffff_ffff) as u32;
                let mut d = last.to_be_bytes().to_vec();
                d.extend((BLOCK as u32).to_be_bytes());
                Reply::DataIn(d, GOOD)
            }
            0x5a => {
                let page = cdb[2] & 0x3f;
                if page != 0x04 && page != 0x3f {
                    return self.fail(INVALID_FIELD);
                }
                // QEMU's geometry guess (`guess_chs_for_size`): 16 heads,
                // 63 sectors, as many cylinders as fit.
                let cyls = (self.sectors / (16 * 63)).clamp(2, 16383) as u32;
                let mut d = vec![0, 30, 0, 0, 0, 0, 0, 0, 0x04, 22];
                d.extend(&cyls.to_be_bytes()[1..]);
                d.push(16);
                d.extend([0; 12]);
                d.extend(5400u16.to_be_bytes());
                d.extend([0, 0]);
                data(d, be16(&cdb[7..]))
            }
            0x28 | 0x2a => {
                let (lba, blocks) = (be32(&cdb[2..]), be16(&cdb[7..]));
                if !self.in_range(lba, blocks) {
                    return self.fail(LBA_OUT_OF_RANGE);
                }
                if cdb[0] == 0x2a {
                    return Reply::DataOut { lba, blocks };
                }
                let mut buf = vec![0u8; (blocks * BLOCK) as usize];
                match self.file.read_exact_at(&mut buf, lba * BLOCK) {
                    Ok(()) => Reply::DataIn(buf, GOOD),
                    Err(e) => {
                        tracing::warn!(target: "usb-storage", lba, blocks, error = %e, "read failed");
                        self.fail(MEDIUM_ERROR)
                    }
                }
            }
            _ => self.fail(INVALID_OPCODE),
        }
    }

    /// Completes a WRITE: `data` (whole blocks) at `lba`.
    pub fn write(&mut self, lba: u64, data: &[u8]) -> u8 {
        match self.file.write_all_at(data, lba * BLOCK) {
            Ok(()) => GOOD,
            Err(e) => {
                tracing::warn!(target: "usb-storage", lba, error = %e, "write failed");
                self.sense = MEDIUM_ERROR;
                CHECK_CONDITION
            }
        }
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    fn disk(blocks: u64) -> (ScsiDisk, std::path::PathBuf) {
        let path =
            std::env::temp_dir().join(format!("qom-scsi-{}-{blocks}.img", std::process::id()));
        let bytes: Vec<u8> = (0..blocks * BLOCK)
            .map(|i| (i / BLOCK) as u8 ^ i as u8)
            .collect();
        std::fs::write(&path, bytes).unwrap();
        let file = File::options().read(true).write(true).open(&path).unwrap();
        (ScsiDisk::new(file).unwrap(), path)
    }

    #[test]
    fn read_capacity_and_geometry_match_qemu_for_4_mib() {
        let (mut d, path) = disk(8192);
        assert_eq!(
            d.execute(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Reply::DataIn(vec![0, 0, 0x1f, 0xff, 0, 0, 2, 0], GOOD)
        );
        let Reply::DataIn(g, GOOD) = d.execute(&[0x5a, 8, 4, 0, 0, 0, 0, 0, 27, 0]) else {
            panic!()
        };
        assert_eq!(g.len(), 27);
        // 8 cylinders, 16 heads: SeaBIOS derives 64 sectors, PCHS=8/16/64.
        assert_eq!((&g[10..13], g[13]), (&[0u8, 0, 8][..], 16));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn read_write_and_sense() {
        let (mut d, path) = disk(16);
        let Reply::DataIn(b, GOOD) = d.execute(&[0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0]) else {
            panic!()
        };
        assert_eq!(b.len(), 1024);
        assert_eq!((b[0], b[1], b[512]), (3, 2, 4), "block 3 then 4");
        assert_eq!(
            d.execute(&[0x2a, 0, 0, 0, 0, 15, 0, 0, 2, 0]),
            Reply::Status(CHECK_CONDITION),
            "past the end"
        );
        let Reply::DataIn(s, GOOD) = d.execute(&[0x03, 0, 0, 0, 18, 0]) else {
            panic!()
        };
        assert_eq!((s[2], s[12]), (5, 0x21));
        let Reply::DataIn(s, GOOD) = d.execute(&[0x03, 0, 0, 0, 18, 0]) else {
            panic!()
        };
        assert_eq!(s[2], 0, "sense is cleared once read");
        assert_eq!(
            d.execute(&[0x2a, 0, 0, 0, 0, 14, 0, 0, 2, 0]),
            Reply::DataOut { lba: 14, blocks: 2 }
        );
        assert_eq!(d.write(14, &[0xab; 1024]), GOOD);
        let img = std::fs::read(&path).unwrap();
        assert!(img[14 * 512..].iter().all(|&b| b == 0xab));
        assert_eq!(img[14 * 512 - 1], 13 ^ 0xff);
        std::fs::remove_file(path).unwrap();
    }
}

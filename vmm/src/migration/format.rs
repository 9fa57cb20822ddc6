//! The KVM migration stream: a header naming the guest RAM blocks, then
//! checksummed records (pages, the machine's state, the end), so a reader
//! can check every record before it uses it.
//!
//! ```text
//! header  magic     8 bytes  89 51 4f 4d 4b 56 4d 0a ("\x89QOMKVM\n")
//!         format    u16      1
//!         blocks    u32 n, then n × (name string, size u64)
//!         crc       u32      CRC-32 of the header bytes before it
//! record  tag       u8       'P' pages, 'S' state, 'E' end
//!         length    u32      bytes of the body
//!         body
//!         crc       u32      CRC-32 of tag, length and body
//! ```
//!
//! A pages body is a block number (`u32`), a count (`u32`) and per page
//! its page number in the block (`u32`) and a kind byte: 0 for a page of
//! zeros (nothing follows), 1 for 4096 bytes of data. A state body is
//! the vCPUs and in-kernel devices (`state.rs`), then the device stream of
//! `qom_rt::migration`. The end body is the number of records before it
//! (`u32`). Integers are little endian; a string is a `u16` length and
//! UTF-8.

use std::io::{Read, Write};

/// The first bytes of every KVM migration stream.
pub const MAGIC: [u8; 8] = *b"\x89QOMKVM\n";
/// The format this build writes and reads.
pub const FORMAT: u16 = 1;
/// Guest pages are 4 KiB.
pub const PAGE: usize = 4096;
/// The largest record a reader accepts: a pages record of 256 pages, or
/// the state, are far below it.
const MAX_RECORD: u32 = 64 << 20;
/// Pages per pages record.
pub const PAGES_PER_RECORD: usize = 256;

/// Record tags.
pub const PAGES: u8 = b'P';
/// The vCPU, in-kernel device and device state.
pub const STATE: u8 = b'S';
/// The last record.
pub const END: u8 = b'E';

/// CRC-32 (IEEE 802.3), as the device stream uses, by `crc32fast` (SIMD
/// where the CPU has it: every byte of guest RAM a migration sends is
/// checksummed on both sides).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A guest RAM block as the stream names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// The memory region's name (`pc.ram`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Appends a string.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The header's bytes.
pub fn header(blocks: &[BlockInfo]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    for block in blocks {
        put_str(&mut out, &block.name);
        out.extend_from_slice(&block.size.to_le_bytes());
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A record's bytes.
pub fn record(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    out.push(tag);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Writes a record; returns its size.
pub fn write_record(out: &mut dyn Write, tag: u8, body: &[u8]) -> std::io::Result<u64> {
    let bytes = record(tag, body);
    out.write_all(&bytes)?;
    Ok(bytes.len() as u64)
}

/// A reader over a stream, checking as it goes.
pub struct Reader<'a> {
    input: &'a mut dyn Read,
    /// Records read so far (the end record's count is checked against it).
    pub records: u32,
}

/// Takes bytes off the front of a body, with the field named in errors.
pub struct Cursor<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `bytes`, which `what` names in errors.
    pub fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Cursor { bytes, what }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err(format!(
                "the {} is truncated: {n} more bytes expected, {} left",
                self.what,
                self.bytes.len()
            ));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// A `u16`.
    pub fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or([0; 2]),
        ))
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or([0; 4]),
        ))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or([0; 8]),
        ))
    }

    /// A string.
    pub fn string(&mut self) -> Result<String, String> {
        let len = self.u16()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("the {} has a string that is not UTF-8", self.what))
    }

    /// Whatever is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// Fails unless everything was read.
    pub fn finish(&self) -> Result<(), String> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(format!("the {} has {n} bytes too many", self.what)),
        }
    }
}

impl<'a> Reader<'a> {
    /// Reads and checks the header; returns the blocks it names.
    pub fn open(input: &'a mut dyn Read) -> Result<(Reader<'a>, Vec<BlockInfo>), String> {
        let io = |e: std::io::Error| format!("the stream's header is truncated: {e}");
        let mut head = [0u8; 14];
        input.read_exact(&mut head).map_err(io)?;
        if head[..8] != MAGIC {
            return Err("this is not a KVM migration stream (its magic is wrong): was it saved by a qom with -accel kvm?".into());
        }
        let format = u16::from_le_bytes([head[8], head[9]]);
        if format != FORMAT {
            return Err(format!(
                "the stream has format {format}, this build reads format {FORMAT}"
            ));
        }
        let count = u32::from_le_bytes([head[10], head[11], head[12], head[13]]);
        if count > 64 {
            return Err(format!("the stream names {count} RAM blocks (at most 64)"));
        }
        let mut bytes = head.to_vec();
        let mut blocks = Vec::new();
        for _ in 0..count {
            let mut len = [0u8; 2];
            input.read_exact(&mut len).map_err(io)?;
            let mut rest = vec![0u8; usize::from(u16::from_le_bytes(len)) + 8];
            input.read_exact(&mut rest).map_err(io)?;
            bytes.extend_from_slice(&len);
            bytes.extend_from_slice(&rest);
            let (name, size) = rest.split_at(rest.len() - 8);
            blocks.push(BlockInfo {
                name: String::from_utf8_lossy(name).into_owned(),
                size: u64::from_le_bytes(size.try_into().unwrap_or([0; 8])),
            });
        }
        let mut crc = [0u8; 4];
        input.read_exact(&mut crc).map_err(io)?;
        if u32::from_le_bytes(crc) != crc32(&bytes) {
            return Err("the stream's header fails its checksum".into());
        }
        Ok((Reader { input, records: 0 }, blocks))
    }

    /// The next record, its checksum checked: (tag, body).
    pub fn next_record(&mut self) -> Result<(u8, Vec<u8>), String> {
        let number = self.records;
        let io = |e: std::io::Error| format!("record {number}: the stream broke off: {e}");
        let mut head = [0u8; 5];
        self.input.read_exact(&mut head).map_err(io)?;
        let tag = head[0];
        if ![PAGES, STATE, END].contains(&tag) {
            return Err(format!("record {number}: unknown kind {tag:#04x}"));
        }
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_RECORD {
            return Err(format!(
                "record {number}: {len} bytes is over the {MAX_RECORD}-byte limit"
            ));
        }
        let mut body = vec![0u8; len as usize + 4];
        self.input.read_exact(&mut body).map_err(io)?;
        let crc_bytes = body.split_off(len as usize);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(&body);
        let crc = crc.finalize();
        if crc_bytes != crc.to_le_bytes() {
            return Err(format!("record {number} fails its checksum"));
        }
        self.records += 1;
        Ok((tag, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn a_flipped_bit_in_a_record_or_the_header_is_refused() {
        let blocks = [BlockInfo {
            name: "pc.ram".into(),
            size: 1 << 20,
        }];
        let mut stream = header(&blocks);
        stream.extend(record(END, &0u32.to_le_bytes()));
        let mut input = &stream[..];
        let (mut reader, read) = Reader::open(&mut input).unwrap();
        assert_eq!(read, blocks);
        assert_eq!(
            reader.next_record().unwrap(),
            (END, 0u32.to_le_bytes().to_vec())
        );
        for bit in [3 * 8, 20 * 8, (stream.len() - 6) * 8] {
            let mut bad = stream.clone();
            bad[bit / 8] ^= 1;
            let mut input = &bad[..];
            let refused = Reader::open(&mut input).and_then(|(mut r, _)| r.next_record());
            assert!(refused.is_err(), "bit {bit}");
        }
    }
}

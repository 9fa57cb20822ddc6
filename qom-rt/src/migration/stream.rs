//! The stream format: a header (magic, format version, the machine's type
//! and shape) and one checksummed section per object with migrated
//! state, keyed by canonical path, type name and version; then an end
//! record with a checksum of the whole stream. [`StreamImage`] is a
//! stream parsed and checksummed, the intermediate form a load checks in
//! full before it applies anything. The byte layout is in the book's
//! migration chapter.

use super::error::MigrationError;
use super::support::LevelImage;
use super::wire::{crc32, Reader, WireError, Writer};

/// The first eight bytes of every stream. As PNG's, they catch a stream
/// mangled as text (line endings, the 8th bit, a `^Z`).
pub const MAGIC: [u8; 8] = *b"\x89QOM\r\n\x1a\n";

/// The version of the layout written here.
pub const FORMAT_VERSION: u16 = 1;

const SECTION: u8 = b'S';
const END: u8 = b'E';

/// A stream, parsed and checksummed but not yet checked against a
/// machine: what [`load`](super::load) validates in full before it
/// changes anything. Tests build older streams by editing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamImage {
    /// The QOM type of the saved root (the board, `virt-machine`).
    pub root_type: String,
    /// The root's canonical path on the source (`/machine`).
    pub root_path: String,
    /// Every object under the root, depth first as `info qom-tree` lists
    /// them: canonical path and type. The destination must have exactly
    /// these.
    pub shape: Vec<(String, String)>,
    /// One per object with migrated state, in shape order.
    pub sections: Vec<SectionImage>,
}

/// One object's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionImage {
    /// Its canonical path on the source.
    pub path: String,
    /// Its type.
    pub type_name: String,
    /// Its levels that migrate, ancestors first.
    pub levels: Vec<LevelImage>,
}

impl StreamImage {
    /// The stream's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes.extend_from_slice(&MAGIC);
        w.bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        w.str(&self.root_type);
        w.str(&self.root_path);
        w.count(self.shape.len());
        for (path, type_name) in &self.shape {
            w.str(path);
            w.str(type_name);
        }
        w.u32(crc32(&w.bytes));
        for (seq, section) in self.sections.iter().enumerate() {
            let mut body = Writer::default();
            body.count(seq);
            body.str(&section.path);
            body.str(&section.type_name);
            body.u8(u8::try_from(section.levels.len()).unwrap_or(u8::MAX));
            for level in &section.levels {
                body.str(&level.type_name);
                body.u32(level.version);
                body.named_values(&level.fields);
                body.named_values(&level.subsections);
            }
            let start = w.bytes.len();
            w.u8(SECTION);
            w.count(body.bytes.len());
            w.bytes.extend_from_slice(&body.bytes);
            w.u32(crc32(&w.bytes[start..]));
        }
        w.u8(END);
        w.count(self.sections.len());
        w.u32(crc32(&w.bytes));
        w.bytes
    }

    /// Parses a stream and checks every checksum, refusing anything
    /// truncated, corrupted, reordered or not a stream at all. Nothing
    /// here looks at a machine.
    pub fn parse(bytes: &[u8]) -> Result<StreamImage, MigrationError> {
        if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(MigrationError::NotAStream);
        }
        let mut r = Reader::new(bytes);
        r.take(MAGIC.len(), "the magic bytes")?;
        let found = r.u16("the format version")?;
        if found != FORMAT_VERSION {
            return Err(MigrationError::FormatVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        let root_type = r.str("the root's type")?;
        let root_path = r.str("the root's path")?;
        // A path and a type name: two lengths at least.
        let count = r.count(4, "the machine's shape")?;
        let shape = (0..count)
            .map(|_| Ok((r.str("a path")?, r.str("a type name")?)))
            .collect::<Result<Vec<_>, MigrationError>>()?;
        check_crc(&mut r, bytes, 0, || "the header".to_string())?;

        let mut sections = Vec::new();
        loop {
            let start = r.at;
            match r.u8("a section marker")? {
                SECTION => {
                    let section = parse_section(&mut r, bytes, start, sections.len())?;
                    sections.push(section);
                }
                END => break,
                other => {
                    return Err(MigrationError::Malformed {
                        offset: start,
                        reason: format!("expected a section or the end, found byte {other:#04x}"),
                    })
                }
            }
        }
        let end = r.at - 1;
        let count = r.u32("the end record")? as usize;
        if count != sections.len() {
            return Err(MigrationError::Malformed {
                offset: end,
                reason: format!(
                    "the end record counts {count} sections, the stream has {}",
                    sections.len()
                ),
            });
        }
        check_crc(&mut r, bytes, 0, || "the whole stream".to_string())?;
        if r.remaining() != 0 {
            return Err(MigrationError::Malformed {
                offset: r.at,
                reason: format!("{} bytes after the end record", r.remaining()),
            });
        }
        Ok(StreamImage {
            root_type,
            root_path,
            shape,
            sections,
        })
    }
}

/// Reads the CRC-32 that follows `bytes[start..r.at]` and compares.
fn check_crc(
    r: &mut Reader<'_>,
    bytes: &[u8],
    start: usize,
    what: impl FnOnce() -> String,
) -> Result<(), MigrationError> {
    let end = r.at;
    let expected = r.u32("a checksum")?;
    if crc32(&bytes[start..end]) != expected {
        return Err(MigrationError::Checksum {
            what: what(),
            offset: start,
        });
    }
    Ok(())
}

/// One section, after its marker at `start`: its body is parsed only once
/// its checksum holds, so a corrupted section is reported as corrupted,
/// not as whatever its damaged bytes happen to say.
fn parse_section(
    r: &mut Reader<'_>,
    bytes: &[u8],
    start: usize,
    expected_seq: usize,
) -> Result<SectionImage, MigrationError> {
    let len = r.u32("a section's length")? as usize;
    let body = r.take(len, "a section")?;
    check_crc(r, bytes, start, || format!("section {expected_seq}"))?;
    // The marker and the length come before the body.
    let body_start = start + 5;
    let mut b = Reader::new(body);
    let parsed = (|| {
        let seq = b.u32("a section's number")? as usize;
        let path = b.str("a section's path")?;
        let type_name = b.str("a section's type")?;
        let count = b.u8("a section's level count")?;
        let levels = (0..count)
            .map(|_| {
                Ok(LevelImage {
                    type_name: b.str("a level's type")?,
                    version: b.u32("a level's version")?,
                    fields: b.named_values()?,
                    subsections: b.named_values()?,
                })
            })
            .collect::<Result<Vec<_>, WireError>>()?;
        Ok((seq, path, type_name, levels))
    })();
    let (seq, path, type_name, levels) = parsed.map_err(|mut e: WireError| {
        e.offset += body_start;
        MigrationError::from(e)
    })?;
    if seq != expected_seq {
        return Err(MigrationError::Malformed {
            offset: body_start,
            reason: format!(
                "section {seq} found where section {expected_seq} belongs: the sections are out of order"
            ),
        });
    }
    if b.remaining() != 0 {
        return Err(MigrationError::Malformed {
            offset: body_start + b.at,
            reason: format!(
                "section {seq} (`{path}`) has {} bytes past its last level",
                b.remaining()
            ),
        });
    }
    Ok(SectionImage {
        path,
        type_name,
        levels,
    })
}

//! [`MigrationError`]: why a stream was refused (or could not be made).
//! Every refusal happens before any state changes.

/// Why a save or a load failed. A load that fails has changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The root to save or load is not in the composition tree, or an
    /// object under it could not be reached.
    #[error("{0}")]
    Tree(#[from] crate::Error),
    /// The input does not start with the stream's magic bytes.
    #[error("not a qom migration stream (it does not start with the magic bytes `\\x89QOM\\r\\n\\x1a\\n`)")]
    NotAStream,
    /// The stream's format version is not one this build reads.
    #[error(
        "stream format version {found} is not supported; this build reads version {supported}"
    )]
    FormatVersion {
        /// The stream's.
        found: u16,
        /// This build's.
        supported: u16,
    },
    /// The stream ends early.
    #[error("the stream is truncated: it ends at byte {offset}, inside {what}")]
    Truncated {
        /// Where it ends.
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// Bytes the format does not allow.
    #[error("malformed stream at byte {offset}: {reason}")]
    Malformed {
        /// Where.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A checksum does not match: the stream was corrupted.
    #[error("checksum mismatch in {what} (at byte {offset}): the stream is corrupted")]
    Checksum {
        /// The header, a section (with its path) or the whole stream.
        what: String,
        /// Where the covered bytes start.
        offset: usize,
    },
    /// The stream was saved from another kind of machine.
    #[error("the stream is for a `{stream}`, this is a `{here}`")]
    MachineType {
        /// The stream's root type.
        stream: String,
        /// The destination's.
        here: String,
    },
    /// The destination's objects are not the ones the stream was saved
    /// from.
    #[error("the machine's shape differs from the stream's: {difference}; start the destination with the same devices as the source")]
    MachineShape {
        /// The first difference found, naming the path.
        difference: String,
    },
    /// A level's version is not one this build loads.
    #[error("`{path}` ({type_name}): {}, this build loads versions {min} to {max}", stream_version(*found))]
    Version {
        /// The object's canonical path on the destination.
        path: String,
        /// The level's type.
        type_name: String,
        /// The stream's version (0: the stream has no state for it).
        found: u32,
        /// The oldest this build loads.
        min: u32,
        /// The newest (this build's own).
        max: u32,
    },
    /// A section does not carry the levels the object's type migrates.
    #[error("`{path}` ({type_name}): {reason}")]
    Levels {
        /// The object's canonical path on the destination.
        path: String,
        /// Its type.
        type_name: String,
        /// What does not match.
        reason: String,
    },
    /// A value does not fit the field that would take it.
    #[error("`{path}` ({type_name} version {version}): {reason}")]
    Field {
        /// The object's canonical path on the destination.
        path: String,
        /// The level's type.
        type_name: String,
        /// The level's version in the stream.
        version: u32,
        /// The field and what is wrong with its value.
        reason: String,
    },
}

impl From<super::wire::WireError> for MigrationError {
    fn from(e: super::wire::WireError) -> Self {
        match e.kind {
            super::wire::WireErrorKind::Truncated(what) => MigrationError::Truncated {
                offset: e.offset,
                what,
            },
            super::wire::WireErrorKind::Malformed(reason) => MigrationError::Malformed {
                offset: e.offset,
                reason,
            },
        }
    }
}

/// The stream's side of a version error.
fn stream_version(found: u32) -> String {
    match found {
        0 => "the stream has no state for it".to_string(),
        v => format!("the stream has version {v} of its state"),
    }
}

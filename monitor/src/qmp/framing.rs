//! Where one request ends in the byte stream. QMP clients do not end
//! requests with a newline (`qemu.qmp` sends `{"execute":...}` and
//! nothing after it), so, like QEMU's `json-streamer`, the framer follows
//! the JSON structure: a request is complete when the object (or array)
//! that began it closes, outside strings. A top-level scalar, or stray
//! bytes, end at the next whitespace. Nothing is ever held beyond
//! [`MAX_REQUEST`] bytes.

/// The longest request the server reads, in bytes. A longer one is
/// answered with an error and skipped (up to where its outermost value
/// closes, or the next newline, whichever comes first); the connection
/// stays open. QEMU takes tokens up to 64 MiB; 1 MiB is far more than
/// any command here needs.
pub const MAX_REQUEST: usize = 1 << 20;

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete request's bytes.
    Request(Vec<u8>),
    /// A request longer than [`MAX_REQUEST`], skipped.
    TooLong,
}

/// Splits a byte stream into requests.
#[derive(Debug, Default)]
pub struct Framer {
    buffer: Vec<u8>,
    /// Open `{`/`[` outside strings.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Inside a top-level value that is not an object or array.
    scalar: bool,
    /// Past [`MAX_REQUEST`]: dropping bytes until the value ends.
    skipping: bool,
}

impl Framer {
    /// A framer at the start of a stream.
    pub fn new() -> Framer {
        Framer::default()
    }

    /// Feeds `bytes`; every frame they complete goes to `out`, in order.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Frame>) {
        for &byte in bytes {
            if let Some(frame) = self.push_byte(byte) {
                out.push(frame);
            }
        }
    }

    /// Whether bytes of an incomplete request are held.
    pub fn partial(&self) -> bool {
        !self.buffer.is_empty() || self.depth > 0 || self.scalar
    }

    fn push_byte(&mut self, byte: u8) -> Option<Frame> {
        if !self.in_string && self.depth == 0 && byte.is_ascii_whitespace() {
            // Between requests, or the end of a top-level scalar (or of
            // one being skipped).
            return (self.scalar || self.skipping).then(|| self.finish());
        }
        if self.skipping && byte == b'\n' {
            return Some(self.finish());
        }
        if !self.skipping {
            if self.buffer.len() >= MAX_REQUEST {
                self.skipping = true;
                self.buffer = Vec::new();
            } else {
                self.buffer.push(byte);
            }
        }
        if self.in_string {
            match (self.escaped, byte) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                // A top-level string is complete at its closing quote.
                (false, b'"') => {
                    self.in_string = false;
                    if self.depth == 0 && !self.scalar {
                        return Some(self.finish());
                    }
                }
                _ => {}
            }
            return None;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' if self.depth > 0 => {
                self.depth -= 1;
                if self.depth == 0 && !self.scalar {
                    return Some(self.finish());
                }
            }
            // A close with nothing open: stray, ends what it follows.
            b'}' | b']' => return Some(self.finish()),
            _ if self.depth == 0 => self.scalar = true,
            _ => {}
        }
        None
    }

    /// Ends the current value: its bytes, or `TooLong` if it overflowed.
    fn finish(&mut self) -> Frame {
        let frame = if self.skipping {
            Frame::TooLong
        } else {
            Frame::Request(std::mem::take(&mut self.buffer))
        };
        *self = Framer::default();
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut framer = Framer::new();
        let mut out = Vec::new();
        framer.push(input, &mut out);
        out
    }

    fn request(text: &str) -> Frame {
        Frame::Request(text.as_bytes().to_vec())
    }

    #[test]
    fn requests_end_where_their_object_closes_with_or_without_newlines() {
        assert_eq!(
            frames(br#"{"execute":"a"}{"execute": "b", "x": "}{\"]"}  [1, [2]]"#),
            [
                request(r#"{"execute":"a"}"#),
                request(r#"{"execute": "b", "x": "}{\"]"}"#),
                request("[1, [2]]"),
            ]
        );
        assert_eq!(
            frames(b"{\n  \"execute\":\n \"a\"\n}\n"),
            [request("{\n  \"execute\":\n \"a\"\n}")]
        );
    }

    #[test]
    fn scalars_and_stray_bytes_end_at_whitespace_or_a_stray_close() {
        assert_eq!(
            frames(b"3 true\n\"s p\" }"),
            [
                request("3"),
                request("true"),
                request("\"s p\""),
                request("}")
            ]
        );
        assert_eq!(frames(b"abc]"), [request("abc]")]);
    }

    #[test]
    fn a_request_past_the_limit_is_skipped_to_its_end_or_newline() {
        let mut big = b"{\"execute\": \"".to_vec();
        big.resize(MAX_REQUEST + 10, b'a');
        big.extend_from_slice(b"\"}{\"execute\":\"b\"}");
        assert_eq!(
            frames(&big),
            [Frame::TooLong, request(r#"{"execute":"b"}"#)]
        );
        let mut line = vec![b'{'; 2 * MAX_REQUEST];
        line.extend_from_slice(b"\n{}");
        assert_eq!(frames(&line), [Frame::TooLong, request("{}")]);
    }

    #[test]
    fn a_partial_request_is_held_until_it_completes() {
        let mut framer = Framer::new();
        let mut out = Vec::new();
        framer.push(br#"{"execute": "#, &mut out);
        assert!(out.is_empty() && framer.partial());
        framer.push(br#""stop"}"#, &mut out);
        assert_eq!(out, [request(r#"{"execute": "stop"}"#)]);
        assert!(!framer.partial());
    }
}

//! Character backends for the devices that print (QEMU's `-serial
//! stdio|file:PATH|null`, `-debugcon ...`), and a capture a script can
//! wait on for a pattern instead of sleeping.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where a device's output bytes go.
#[derive(Clone, Default)]
pub enum CharBackend {
    /// Dropped (`null`, QEMU's default with `-nodefaults`).
    #[default]
    Null,
    /// The process's standard output (`stdio`).
    Stdio,
    /// Appended to a file (`file:PATH`), created or truncated at start.
    File(Arc<Mutex<std::fs::File>>),
    /// Kept in a [`Capture`] (what tests and the monitor's `wait` read),
    /// and forwarded.
    Capture(Capture, Box<CharBackend>),
}

impl std::fmt::Debug for CharBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CharBackend::Null => f.write_str("null"),
            CharBackend::Stdio => f.write_str("stdio"),
            CharBackend::File(_) => f.write_str("file"),
            CharBackend::Capture(_, next) => write!(f, "captured {next:?}"),
        }
    }
}

impl CharBackend {
    /// Parses QEMU's spelling: `null`, `stdio`, `file:PATH` (the file is
    /// created, or truncated, now).
    ///
    /// ```
    /// use qom_devices::chardev::CharBackend;
    ///
    /// assert!(matches!(CharBackend::parse("null"), Ok(CharBackend::Null)));
    /// assert_eq!(
    ///     CharBackend::parse("vc").unwrap_err(),
    ///     "unknown character backend `vc`: expected `null`, `stdio` or `file:PATH`"
    /// );
    /// ```
    pub fn parse(spec: &str) -> Result<CharBackend, String> {
        match spec {
            "null" => Ok(CharBackend::Null),
            "stdio" => Ok(CharBackend::Stdio),
            _ => match spec.strip_prefix("file:") {
                Some(path) => std::fs::File::create(path)
                    .map(|f| CharBackend::File(Arc::new(Mutex::new(f))))
                    .map_err(|e| format!("cannot create `{path}`: {e}")),
                None => Err(format!(
                    "unknown character backend `{spec}`: expected `null`, `stdio` or `file:PATH`"
                )),
            },
        }
    }

    /// This backend, with its output also kept in a new [`Capture`].
    pub fn captured(self) -> (CharBackend, Capture) {
        let capture = Capture::default();
        (
            CharBackend::Capture(capture.clone(), Box::new(self)),
            capture,
        )
    }

    /// Sends `bytes` on.
    pub fn write(&self, bytes: &[u8]) {
        match self {
            CharBackend::Null => {}
            CharBackend::Stdio => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
            CharBackend::File(file) => {
                let _ = file
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .write_all(bytes);
            }
            CharBackend::Capture(capture, next) => {
                capture.push(bytes);
                next.write(bytes);
            }
        }
    }
}

/// How many of the latest bytes a [`Capture`] keeps at least; it forgets
/// older ones in blocks of this size, so a chatty guest cannot grow it
/// without bound.
pub const CAPTURE_KEEP: usize = 1 << 20;

/// How often a waiter looks again when no line ended meanwhile.
const RECHECK: Duration = Duration::from_millis(20);

/// Output kept in memory, with waits for a pattern (the monitor's `wait`
/// command and the tests use them instead of sleeping). Positions are
/// byte offsets from the first byte ever written.
///
/// ```
/// use qom_devices::chardev::CharBackend;
/// use std::time::{Duration, Instant};
///
/// let (backend, capture) = CharBackend::Null.captured();
/// backend.write(b"boot: ok\nboot: ok\n");
/// let soon = Instant::now() + Duration::from_millis(10);
/// // The first match ends at byte 8, the second, searched from there, at 17.
/// assert_eq!(capture.wait_from(0, "ok", soon), Ok(8));
/// assert_eq!(capture.wait_from(8, "ok", soon), Ok(17));
/// assert_eq!(capture.wait_from(17, "ok", soon), Err(18), "searched to the end");
/// ```
#[derive(Clone, Default)]
pub struct Capture {
    inner: Arc<(Mutex<Kept>, Condvar)>,
}

#[derive(Default)]
struct Kept {
    bytes: Vec<u8>,
    /// Bytes forgotten before `bytes[0]`.
    forgotten: u64,
}

impl Kept {
    fn end(&self) -> u64 {
        self.forgotten + self.bytes.len() as u64
    }
}

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, bytes: &[u8]) {
        let mut kept = self.lock();
        kept.bytes.extend_from_slice(bytes);
        if kept.bytes.len() >= 2 * CAPTURE_KEEP {
            let forget = kept.bytes.len() - CAPTURE_KEEP;
            kept.bytes.drain(..forget);
            kept.forgotten += forget as u64;
        }
        // Waiters are woken at the end of each line, not at each byte: a
        // guest printing a byte at a time would otherwise wake them (and
        // take the CPU from the vCPU) thousands of times a second. A
        // pattern that does not end a line is seen at the waiter's next
        // look, within `RECHECK`.
        if bytes.contains(&b'\n') {
            self.inner.1.notify_all();
        }
    }

    /// The output kept, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock().bytes).into_owned()
    }

    /// The output from position `from` (see [`end`](Self::end)) on, as
    /// text; bytes already forgotten are left out.
    pub fn since(&self, from: u64) -> String {
        let kept = self.lock();
        let offset = from.saturating_sub(kept.forgotten) as usize;
        String::from_utf8_lossy(&kept.bytes[offset.min(kept.bytes.len())..]).into_owned()
    }

    /// The position after the last byte written so far.
    pub fn end(&self) -> u64 {
        self.lock().end()
    }

    /// Waits at most `timeout` until the output kept contains `pattern`;
    /// whether it did.
    pub fn wait_for(&self, pattern: &str, timeout: Duration) -> bool {
        self.wait_from(0, pattern, Instant::now() + timeout).is_ok()
    }

    /// Waits until `pattern` appears at or after position `from`, or
    /// `deadline` passes. `Ok` has the position just after the first such
    /// match; `Err` the position searched up to. Bytes already forgotten
    /// are not searched.
    pub fn wait_from(&self, from: u64, pattern: &str, deadline: Instant) -> Result<u64, u64> {
        let needle = pattern.as_bytes();
        let mut kept = self.lock();
        // Where the next search starts: only new bytes (and the few before
        // them a match could begin in) are searched again after a wake-up.
        let mut start = from;
        loop {
            let first = start.max(kept.forgotten);
            let offset = (first - kept.forgotten) as usize;
            if let Some(at) = find(&kept.bytes[offset.min(kept.bytes.len())..], needle) {
                return Ok(first + (at + needle.len()) as u64);
            }
            let end = kept.end();
            start = end
                .saturating_sub(needle.len().saturating_sub(1) as u64)
                .max(first);
            let now = Instant::now();
            if now >= deadline {
                return Err(end);
            }
            kept = self
                .inner
                .1
                .wait_timeout(kept, (deadline - now).min(RECHECK))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Where `needle` first occurs in `haystack` (an empty needle at 0).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_split_across_writes_is_found_once_complete() {
        let (backend, capture) = CharBackend::Null.captured();
        backend.write(b"No boot");
        let waiter = {
            let capture = capture.clone();
            std::thread::spawn(move || {
                capture.wait_from(
                    0,
                    "No bootable device.",
                    Instant::now() + Duration::from_secs(10),
                )
            })
        };
        backend.write(b"able device.\n");
        assert_eq!(waiter.join().unwrap(), Ok(19));
    }

    #[test]
    fn output_since_a_position_is_what_came_after_it() {
        let (backend, capture) = CharBackend::Null.captured();
        backend.write(b"boot 1\n");
        let second = capture.end();
        backend.write(b"boot 2\n");
        assert_eq!(capture.since(second), "boot 2\n");
        assert_eq!(capture.since(0), "boot 1\nboot 2\n");
        assert_eq!(capture.since(capture.end() + 5), "");
    }

    #[test]
    // Searching megabytes takes minutes under Miri; the logic is the same
    // at any size, and the other tests cover it there.
    #[cfg_attr(miri, ignore)]
    fn old_output_is_forgotten_past_the_limit() {
        let (backend, capture) = CharBackend::Null.captured();
        backend.write(b"marker");
        backend.write(&vec![b'.'; 2 * CAPTURE_KEEP]);
        assert_eq!(capture.end(), 6 + 2 * CAPTURE_KEEP as u64);
        assert_eq!(capture.text().len(), CAPTURE_KEEP);
        let now = Instant::now();
        assert!(capture.wait_from(0, "marker", now).is_err(), "forgotten");
        backend.write(b"marker");
        assert_eq!(capture.wait_from(0, "marker", now), Ok(capture.end()));
        assert_eq!(
            capture.since(0).len(),
            CAPTURE_KEEP + 6,
            "forgotten bytes left out"
        );
    }
}

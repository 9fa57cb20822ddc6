//! Character backends for the `pc` board's serial port and debug console
//! (QEMU's `-serial stdio|file:PATH|null`, `-debugcon ...`), and a capture
//! buffer a script can wait on for a pattern instead of sleeping.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
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
    /// Kept in memory for [`Capture::wait_for`] (what tests and the
    /// monitor's wait command read), optionally also forwarded.
    Capture(Capture, Box<CharBackend>),
}

impl CharBackend {
    /// Parses QEMU's spelling: `null`, `stdio`, `file:PATH`.
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

/// Output kept in memory, with a wait for a pattern (the monitor's
/// wait-for-pattern command and the tests use it instead of sleeping).
#[derive(Clone, Default)]
pub struct Capture {
    inner: Arc<(Mutex<Vec<u8>>, Condvar)>,
}

impl Capture {
    fn push(&self, bytes: &[u8]) {
        let (data, changed) = &*self.inner;
        data.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        changed.notify_all();
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let data = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&data).into_owned()
    }

    /// Waits until the output contains `pattern`, at most `timeout`;
    /// whether it appeared.
    pub fn wait_for(&self, pattern: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (data, changed) = &*self.inner;
        let mut data = data.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if contains(&data, pattern.as_bytes()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            data = changed
                .wait_timeout(data, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

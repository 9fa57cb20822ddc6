//! `migrate "file:PATH"` and `migrate_incoming file:PATH` (and the
//! command line's `-incoming file:PATH`): snapshots of the machine's
//! device state, in QEMU's spelling. The stream and its all-or-nothing
//! load are `qom_rt::migration`'s.
//!
//! `tcp:HOST:PORT` and `unix:PATH` carry the same device stream to a
//! second `qom` started with `-incoming` on that address (a machine
//! without a guest: device state only; guest RAM and vCPUs come with
//! KVM). On the socket the source sends the stream's length (`u64`, little
//! endian) and the stream; the destination loads it, all or nothing, and
//! answers one byte, 0 (loaded) or 1 followed by its error message, then
//! closes. The source reports the destination's answer: a refused or
//! broken migration is an error on the source, which keeps running, and
//! leaves the destination as it was.
//!
//! Without a guest `migrate` returns once the stream is written and
//! answered, so no migration runs in the background: `migrate_cancel`
//! finds none to cancel (QEMU's answer too when none is active), and
//! `info migrate` / `query-migrate` report the last one. With a guest
//! (`-accel kvm`) `migration_kvm.rs` takes over: live migration in the
//! background, progress, cancel.

use super::{fail, Failure};
use crate::monitor::Monitor;
use qom_devices::Machine;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The largest stream `-incoming` accepts from a socket (device state is
/// kilobytes; a larger length is a foreign or broken sender).
const MAX_STREAM: u64 = 64 << 20;
/// How long the source retries connecting while the destination starts.
const CONNECT_FOR: Duration = Duration::from_secs(10);

/// The last migration, as `info migrate` and `query-migrate` report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationInfo {
    /// QEMU's `MigrationStatus`: `none` before the first, `active` while
    /// a guest's live migration runs, then `completed`, `failed` or
    /// `cancelled`.
    pub status: &'static str,
    /// Bytes of the stream sent.
    pub transferred: u64,
    /// Milliseconds from start to the destination's answer.
    pub total_time_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// A guest's migration: RAM, rounds, downtime.
    pub ram: Option<qom_vmm::MigrationStats>,
}

impl MigrationInfo {
    /// `info migrate`'s text (QEMU's `hmp_info_migrate` lines).
    pub fn to_hmp(&self) -> String {
        if self.status.is_empty() || self.status == "none" {
            return String::new();
        }
        // The time is `query-migrate`'s (`total-time`): left out here so
        // that the text of a migration is the same each run.
        let mut out = match &self.ram {
            None => format!(
                "Migration status: {}\ntransferred ram: 0 kbytes\ndevice state: {} bytes\n",
                self.status, self.transferred
            ),
            Some(ram) => {
                let mut out = format!(
                    "Migration status: {}\ntotal time: {} ms\ntransferred ram: {} kbytes\nremaining ram: {} kbytes\ntotal ram: {} kbytes\nduplicate: {} pages\nnormal: {} pages\ndirty pages: {}\ndirty sync count: {}\ndevice state: {} bytes\n",
                    self.status,
                    self.total_time_ms,
                    ram.transferred / 1024,
                    ram.remaining / 1024,
                    ram.total_ram / 1024,
                    ram.zero_pages,
                    ram.data_pages,
                    ram.dirty_pages,
                    ram.iterations,
                    ram.state_bytes
                );
                if let Some(downtime) = ram.downtime {
                    out.push_str(&format!("downtime: {} ms\n", downtime.as_millis()));
                }
                out
            }
        };
        if let Some(error) = &self.error {
            out.push_str(&format!("error description: {error}\n"));
        }
        out
    }
}

/// Runs `migrate URI` for HMP and QMP alike: saves the machine's state,
/// sends it, records the outcome in the monitor. The machine keeps
/// running whatever happens.
/// With a guest and `detach`, a socket migration runs on in the
/// background (`info migrate` follows it).
pub(crate) fn run_migrate(monitor: &mut Monitor, uri: &str, detach: bool) -> Result<(), String> {
    if monitor.guest.is_some() {
        return super::migration_kvm::start(monitor, uri, detach);
    }
    let started = Instant::now();
    let outcome = MigrationUri::parse(uri).and_then(|uri| uri.save(monitor.machine()));
    let total_time_ms = started.elapsed().as_millis() as u64;
    monitor.migration = match &outcome {
        Ok(transferred) => MigrationInfo {
            status: "completed",
            transferred: *transferred,
            total_time_ms,
            error: None,
            ram: None,
        },
        Err(e) => MigrationInfo {
            status: "failed",
            transferred: 0,
            total_time_ms,
            error: Some(e.clone()),
            ram: None,
        },
    };
    outcome.map(|_| ())
}

/// Where a migration stream goes or comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MigrationUri {
    /// `file:PATH`: a snapshot in a file.
    File(PathBuf),
    /// `tcp:HOST:PORT`: a second `qom` listening with `-incoming`.
    Tcp(String),
    /// `unix:PATH`: the same over a Unix socket.
    Unix(PathBuf),
}

impl MigrationUri {
    /// Parses QEMU's spelling, quotes allowed (`"file:/tmp/vm.snap"`).
    pub(crate) fn parse(text: &str) -> Result<MigrationUri, String> {
        let text = text.trim().trim_matches('"');
        let (scheme, rest) = text.split_once(':').unwrap_or((text, ""));
        match scheme {
            "file" if !rest.is_empty() => Ok(MigrationUri::File(PathBuf::from(rest))),
            "file" => Err("`file:` needs a path, as in `file:/tmp/vm.snap`".into()),
            "tcp" => match rest.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(MigrationUri::Tcp(rest.to_string()))
                }
                _ => Err(format!(
                    "`{text}`: write `tcp:HOST:PORT`, as in `tcp:127.0.0.1:4444`"
                )),
            },
            "unix" if !rest.is_empty() => Ok(MigrationUri::Unix(PathBuf::from(rest))),
            "unix" => Err("`unix:` needs a socket path, as in `unix:/tmp/qom.sock`".into()),
            "exec" | "fd" | "rdma" => Err(format!(
                "migration over `{scheme}:` is not supported; use `file:PATH`, `tcp:HOST:PORT` or `unix:PATH`"
            )),
            _ => Err(format!(
                "`{text}` is not a migration URI; write `file:PATH`, `tcp:HOST:PORT` or `unix:PATH`"
            )),
        }
    }

    /// Saves `machine`'s state there and returns the stream's size. A
    /// file is written whole under a temporary name and then renamed, so a
    /// reader never sees half a snapshot; a socket's destination must
    /// answer that it loaded the stream.
    pub(crate) fn save(&self, machine: &Machine) -> Result<u64, String> {
        let stream = machine.save_state().map_err(|e| e.to_string())?;
        let path = match self {
            MigrationUri::File(path) => path,
            MigrationUri::Tcp(address) => {
                let socket = connect(|| std::net::TcpStream::connect(address.as_str()))
                    .map_err(|e| format!("cannot connect to `tcp:{address}`: {e}"))?;
                return send(socket, &stream).map_err(|e| format!("tcp:{address}: {e}"));
            }
            MigrationUri::Unix(path) => {
                let socket = connect(|| std::os::unix::net::UnixStream::connect(path))
                    .map_err(|e| format!("cannot connect to `unix:{}`: {e}", path.display()))?;
                return send(socket, &stream).map_err(|e| format!("unix:{}: {e}", path.display()));
            }
        };
        let mut partial = path.clone().into_os_string();
        partial.push(format!(".partial-{}", std::process::id()));
        let partial = PathBuf::from(partial);
        std::fs::write(&partial, &stream)
            .and_then(|()| std::fs::rename(&partial, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&partial);
                format!("cannot write `{}`: {e}", path.display())
            })?;
        Ok(stream.len() as u64)
    }

    /// Loads a snapshot from there into `machine`, all or nothing. For a
    /// socket: listens, takes one source's stream, loads it and answers
    /// the source.
    pub(crate) fn load(&self, machine: &Machine) -> Result<(), String> {
        match self {
            MigrationUri::File(path) => {
                let stream = std::fs::read(path)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
                machine.load_state(&stream).map_err(|e| e.to_string())?;
                Ok(())
            }
            MigrationUri::Tcp(_) | MigrationUri::Unix(_) => receive(self.accept_one()?, machine),
        }
    }

    /// For a socket: listens there and returns the first source's
    /// connection (the listener closes, a Unix socket's file goes). For a
    /// file: an error, which the callers rule out first.
    pub(crate) fn accept_one(&self) -> Result<Box<dyn Connection>, String> {
        match self {
            MigrationUri::File(path) => Err(format!(
                "file:{} is not a socket to listen on",
                path.display()
            )),
            MigrationUri::Tcp(address) => {
                let listener = std::net::TcpListener::bind(address.as_str())
                    .map_err(|e| format!("cannot listen on `tcp:{address}`: {e}"))?;
                let (socket, _) = listener
                    .accept()
                    .map_err(|e| format!("tcp:{address}: {e}"))?;
                // The destination's one-byte answer goes out at once.
                let _ = socket.set_nodelay(true);
                Ok(Box::new(socket))
            }
            MigrationUri::Unix(path) => {
                // A socket file left by an earlier run would make bind fail.
                let _ = std::fs::remove_file(path);
                let listener = std::os::unix::net::UnixListener::bind(path)
                    .map_err(|e| format!("cannot listen on `unix:{}`: {e}", path.display()))?;
                let accepted = listener.accept();
                let _ = std::fs::remove_file(path);
                let (socket, _) = accepted.map_err(|e| format!("unix:{}: {e}", path.display()))?;
                Ok(Box::new(socket))
            }
        }
    }
}

/// A source's connection to a destination: a TCP or Unix socket.
pub(crate) trait Connection: Read + Write {}

impl<T: Read + Write> Connection for T {}

/// Connects, retrying while the destination is still starting.
pub(crate) fn connect<S>(mut attempt: impl FnMut() -> std::io::Result<S>) -> std::io::Result<S> {
    let started = Instant::now();
    loop {
        match attempt() {
            Ok(socket) => return Ok(socket),
            Err(e) if started.elapsed() >= CONNECT_FOR => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The source's side: length, stream, then the destination's answer.
fn send(mut socket: impl Read + Write, stream: &[u8]) -> Result<u64, String> {
    let io = |e: std::io::Error| format!("the connection broke: {e}");
    socket
        .write_all(&(stream.len() as u64).to_le_bytes())
        .and_then(|()| socket.write_all(stream))
        .and_then(|()| socket.flush())
        .map_err(io)?;
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).map_err(io)?;
    match answer.split_first() {
        Some((0, _)) => Ok(stream.len() as u64),
        Some((1, message)) => Err(format!(
            "the destination refused the stream: {}",
            String::from_utf8_lossy(message)
        )),
        _ => Err("the destination closed the connection without an answer".into()),
    }
}

/// The destination's side: reads one stream, loads it (all or nothing)
/// and answers.
fn receive(mut socket: impl Read + Write, machine: &Machine) -> Result<(), String> {
    let mut length = [0u8; 8];
    socket
        .read_exact(&mut length)
        .map_err(|e| format!("no stream came: {e}"))?;
    let length = u64::from_le_bytes(length);
    if length > MAX_STREAM {
        let message = format!("a stream of {length} bytes is over the {MAX_STREAM}-byte limit");
        let _ = socket.write_all(&[&[1u8][..], message.as_bytes()].concat());
        return Err(message);
    }
    let mut stream = vec![0u8; length as usize];
    socket
        .read_exact(&mut stream)
        .map_err(|e| format!("the stream broke off: {e}"))?;
    let loaded = machine.load_state(&stream).map_err(|e| e.to_string());
    let answer = match &loaded {
        Ok(_) => vec![0u8],
        Err(message) => [&[1u8][..], message.as_bytes()].concat(),
    };
    // The source learns the outcome; if it has gone, the load stands.
    let _ = socket.write_all(&answer);
    loaded.map(|_| ())
}

/// `migrate URI`; QEMU's `-d` (return at once) is accepted: a snapshot is
/// written before the command returns either way.
pub(super) fn migrate(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let (uri, detach) = match args {
        [uri] => (uri, false),
        ["-d", uri] => (uri, true),
        _ => return Err(Failure::Usage),
    };
    run_migrate(monitor, uri, detach).or_else(fail)?;
    Ok(String::new())
}

/// `migrate_cancel`: `migrate` has returned by the time this runs, so
/// there is nothing in flight to cancel; as QEMU, that is not an error.
pub(super) fn migrate_cancel(
    monitor: &mut Monitor,
    args: &[&str],
    _: &str,
) -> Result<String, Failure> {
    match args {
        [] => {
            super::migration_kvm::cancel(monitor);
            Ok(String::new())
        }
        _ => Err(Failure::Usage),
    }
}

/// `info migrate`: the last migration's status, time and size.
pub(super) fn info_migrate(
    monitor: &mut Monitor,
    args: &[&str],
    _: &str,
) -> Result<String, Failure> {
    match args {
        [] => Ok(current(monitor).to_hmp()),
        _ => Err(Failure::Usage),
    }
}

/// The migration `info migrate` reports: the one running, else the
/// last.
pub(crate) fn current(monitor: &mut Monitor) -> MigrationInfo {
    super::migration_kvm::reap(monitor, false);
    match &monitor.live {
        Some(live) => live.info(),
        None => monitor.migration.clone(),
    }
}

/// `migrate_incoming URI`: loads a snapshot into the running machine.
pub(super) fn migrate_incoming(
    monitor: &mut Monitor,
    args: &[&str],
    _: &str,
) -> Result<String, Failure> {
    let [uri] = args else {
        return Err(Failure::Usage);
    };
    let uri = MigrationUri::parse(uri).or_else(fail)?;
    match monitor.guest() {
        Some(vm) => {
            let was_running = vm.status() == qom_vmm::RunState::Running;
            vm.pause().map_err(|e| e.to_string()).or_else(fail)?;
            let loaded = super::migration_kvm::incoming(vm, &uri);
            if was_running {
                vm.resume();
            }
            loaded.or_else(fail)?;
        }
        None => uri.load(monitor.machine()).or_else(fail)?,
    }
    Ok(String::new())
}

/// Completions for a migration URI being typed: the scheme, then after
/// `file:` the entries of the directory typed so far (a leading quote is
/// kept).
pub(crate) fn complete_uri(word: &str) -> Vec<String> {
    let (quote, word) = match word.strip_prefix('"') {
        Some(rest) => ("\"", rest),
        None => ("", word),
    };
    let Some(path) = word.strip_prefix("file:") else {
        return vec![format!("{quote}file:")];
    };
    let (dir, _) = path.rsplit_once('/').unwrap_or(("", path));
    let listed = if dir.is_empty() && path.starts_with('/') {
        Path::new("/")
    } else if dir.is_empty() {
        Path::new(".")
    } else {
        Path::new(dir)
    };
    let Ok(entries) = std::fs::read_dir(listed) else {
        return Vec::new();
    };
    let prefix = if dir.is_empty() && !path.starts_with('/') {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let slash = if e.path().is_dir() { "/" } else { "" };
            let name = e.file_name().to_string_lossy().into_owned();
            format!("{quote}file:{prefix}{name}{slash}")
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_spelt_as_qemu_spells_them() {
        assert_eq!(
            MigrationUri::parse("\"file:/tmp/vm.snap\""),
            Ok(MigrationUri::File("/tmp/vm.snap".into()))
        );
        assert!(MigrationUri::parse("file:").is_err());
        assert_eq!(
            MigrationUri::parse("tcp:127.0.0.1:4444"),
            Ok(MigrationUri::Tcp("127.0.0.1:4444".into()))
        );
        assert_eq!(
            MigrationUri::parse("unix:/tmp/qom.sock"),
            Ok(MigrationUri::Unix("/tmp/qom.sock".into()))
        );
        assert!(MigrationUri::parse("tcp:127.0.0.1").is_err());
        assert!(MigrationUri::parse("exec:cat").is_err());
        assert!(MigrationUri::parse("/tmp/vm.snap").is_err());
    }

    #[test]
    fn completion_offers_the_scheme_then_files() {
        assert_eq!(complete_uri(""), ["file:"]);
        assert_eq!(complete_uri("\"fi"), ["\"file:"]);
        let dir = std::env::temp_dir().join("qom-complete-uri");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("vm.snap"), b"").unwrap();
        let typed = format!("file:{}/", dir.display());
        assert_eq!(
            complete_uri(&typed),
            [format!("{typed}sub/"), format!("{typed}vm.snap")]
        );
    }
}

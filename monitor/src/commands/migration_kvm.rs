//! Migration of a running KVM guest (`-accel kvm`): the same URIs as the
//! device-only migration of `migration.rs`, carrying the stream of
//! `qom_vmm::migration` (guest RAM, vCPU and in-kernel state, devices).
//!
//! - `file:PATH`: the guest stops, the snapshot is written (under a
//!   temporary name, then renamed), the guest stays stopped
//!   (`postmigrate`, as QEMU's source after a migration).
//! - `tcp:`/`unix:`: pre-copy while the guest runs, in a background
//!   thread (`migrate -d`, QMP's `migrate`; plain HMP `migrate` waits for
//!   it), with progress in `info migrate`/`query-migrate`. The source
//!   writes the stream, then reads the destination's answer: 0 (loaded),
//!   or 1 and its error message. Cancelled (`migrate_cancel`), refused or
//!   broken, the guest runs on here.
//!
//! A destination started with `-accel kvm -incoming URI` loads the stream
//! before its guest first runs.

use super::migration::{connect, MigrationInfo, MigrationUri};
use qom_vmm::{MigrationStats, Vm};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A live migration running in the background.
pub(crate) struct Live {
    /// The outcome and how long it took, measured when it ended.
    thread: Option<JoinHandle<(Result<MigrationStats, String>, Duration)>>,
    progress: Arc<Mutex<MigrationStats>>,
    cancel: Arc<AtomicBool>,
    /// Shuts the connection, so that a blocked write returns.
    shutdown: Box<dyn Fn() + Send>,
    started: Instant,
}

impl Live {
    /// Whether the thread has ended.
    pub(crate) fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Where it is now, as `info migrate` reports it.
    pub(crate) fn info(&self) -> MigrationInfo {
        let stats = self
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        MigrationInfo {
            status: "active",
            transferred: stats.transferred,
            total_time_ms: self.started.elapsed().as_millis() as u64,
            error: None,
            ram: Some(stats),
        }
    }

    /// Waits for the thread; returns the outcome.
    fn join(mut self) -> MigrationInfo {
        let (outcome, took) = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(ended)) => ended,
            _ => (
                Err("the migration thread panicked".into()),
                self.started.elapsed(),
            ),
        };
        let stats = self
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        finish(outcome.map(|_| ()), stats, took)
    }
}

fn finish(outcome: Result<(), String>, stats: MigrationStats, took: Duration) -> MigrationInfo {
    MigrationInfo {
        status: if outcome.is_ok() {
            "completed"
        } else {
            "failed"
        },
        transferred: stats.transferred,
        total_time_ms: took.as_millis() as u64,
        error: outcome.err(),
        ram: Some(stats),
    }
}

/// Ends a finished live migration, recording its outcome; with `wait`,
/// waits for a running one first.
pub(crate) fn reap(monitor: &mut crate::monitor::Monitor, wait: bool) {
    if monitor.live.as_ref().is_some_and(|l| wait || l.finished()) {
        if let Some(live) = monitor.live.take() {
            monitor.migration = live.join();
        }
    }
}

/// `migrate_cancel`: stops a running live migration; the guest runs on.
pub(crate) fn cancel(monitor: &mut crate::monitor::Monitor) {
    if let Some(live) = &monitor.live {
        live.cancel.store(true, Ordering::Release);
        (live.shutdown)();
    }
    reap(monitor, true);
    if monitor.migration.status == "failed" {
        monitor.migration.status = "cancelled";
    }
}

/// `migrate URI` with a guest. `detach`: a socket migration goes on in
/// the background.
pub(crate) fn start(
    monitor: &mut crate::monitor::Monitor,
    uri: &str,
    detach: bool,
) -> Result<(), String> {
    reap(monitor, false);
    if monitor.live.is_some() {
        return Err("a migration is already running (info migrate; migrate_cancel)".into());
    }
    let vm = monitor.guest.clone().ok_or("no guest")?;
    let started = Instant::now();
    let progress = Arc::new(Mutex::new(MigrationStats::default()));
    let uri = MigrationUri::parse(uri)?;
    let (socket, shutdown): (Box<dyn ReadWrite>, Box<dyn Fn() + Send>) = match &uri {
        MigrationUri::File(path) => {
            let outcome = save_file(&vm, path, &progress);
            let stats = progress.lock().unwrap_or_else(|e| e.into_inner()).clone();
            monitor.migration = finish(outcome.clone(), stats, started.elapsed());
            return outcome;
        }
        MigrationUri::Tcp(address) => {
            let socket = connect(|| std::net::TcpStream::connect(address.as_str()))
                .map_err(|e| format!("cannot connect to `tcp:{address}`: {e}"))?;
            let closer = socket.try_clone().map_err(|e| e.to_string())?;
            let shutdown = move || {
                let _ = closer.shutdown(std::net::Shutdown::Both);
            };
            (Box::new(socket), Box::new(shutdown))
        }
        MigrationUri::Unix(path) => {
            let socket = connect(|| std::os::unix::net::UnixStream::connect(path))
                .map_err(|e| format!("cannot connect to `unix:{}`: {e}", path.display()))?;
            let closer = socket.try_clone().map_err(|e| e.to_string())?;
            let shutdown = move || {
                let _ = closer.shutdown(std::net::Shutdown::Both);
            };
            (Box::new(socket), Box::new(shutdown))
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let (thread_progress, thread_cancel) = (progress.clone(), cancel.clone());
    let thread = std::thread::Builder::new()
        .name("migration".into())
        .spawn(move || {
            let outcome = send_live(&vm, socket, &thread_progress, &thread_cancel);
            (outcome, started.elapsed())
        })
        .map_err(|e| format!("cannot start the migration thread: {e}"))?;
    monitor.live = Some(Live {
        thread: Some(thread),
        progress,
        cancel,
        shutdown,
        started,
    });
    if !detach {
        reap(monitor, true);
        if let Some(error) = &monitor.migration.error {
            return Err(error.clone());
        }
    }
    Ok(())
}

/// A socket, both ways.
trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn send_live(
    vm: &Vm,
    mut socket: Box<dyn ReadWrite>,
    progress: &Mutex<MigrationStats>,
    cancel: &AtomicBool,
) -> Result<MigrationStats, String> {
    let mut answer = Vec::new();
    let outcome = {
        let mut out = BufWriter::with_capacity(1 << 20, &mut socket);
        let mut confirm = || Ok(());
        let sent = vm.migrate_live(&mut out, progress, cancel, &mut confirm);
        let flushed = out
            .flush()
            .map_err(|e| format!("the connection broke: {e}"));
        sent.and_then(|s| flushed.map(|()| s))
    };
    // The guest is stopped here, or the migration failed: the answer
    // decides. A destination that refused the stream early has answered
    // and closed (the source's write then broke): its reason is the
    // error to report.
    let cancelled = cancel.load(Ordering::Acquire);
    let read = if cancelled {
        Ok(0)
    } else {
        socket.read_to_end(&mut answer)
    };
    let outcome = match (outcome, answer.split_first()) {
        (_, Some((1, message))) => Err(format!(
            "the destination refused the stream: {}",
            String::from_utf8_lossy(message)
        )),
        (Err(e), _) => Err(e),
        (Ok(stats), Some((0, _))) => Ok(stats),
        (Ok(_), _) => Err(match read {
            Err(e) => format!("the connection broke: {e}"),
            Ok(_) => "the destination closed the connection without an answer".into(),
        }),
    };
    if outcome.is_err() && vm.status() == qom_vmm::RunState::PostMigrate {
        // The destination did not take the guest: it runs on here.
        vm.resume();
    }
    outcome
}

fn save_file(vm: &Vm, path: &PathBuf, progress: &Mutex<MigrationStats>) -> Result<(), String> {
    let mut partial = path.clone().into_os_string();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let written = std::fs::File::create(&partial)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
        .and_then(|file| {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let saved = vm.save_snapshot(&mut out, progress);
            let flushed = out
                .flush()
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()));
            saved.and(flushed)
        })
        .and_then(|()| {
            std::fs::rename(&partial, path)
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
        if vm.status() == qom_vmm::RunState::PostMigrate {
            vm.resume();
        }
    }
    written
}

/// `-incoming URI` (and `migrate_incoming`) with a guest: loads the
/// stream into the stopped VM. A file is read and checked whole before
/// anything changes; a socket's pages are written as they come into a
/// destination that has not run, and the source gets the answer.
pub(crate) fn incoming(vm: &Vm, uri: &MigrationUri) -> Result<(), String> {
    match uri {
        MigrationUri::File(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            vm.load_snapshot(&mut &bytes[..], true).map(drop)
        }
        MigrationUri::Tcp(_) | MigrationUri::Unix(_) => receive(vm, uri.accept_one()?),
    }
}

fn receive(vm: &Vm, mut socket: impl Read + Write) -> Result<(), String> {
    let loaded = {
        let mut input = BufReader::with_capacity(1 << 20, &mut socket);
        vm.load_snapshot(&mut input, false)
    };
    let answer = match &loaded {
        Ok(_) => vec![0u8],
        Err(message) => [&[1u8][..], message.as_bytes()].concat(),
    };
    let _ = socket.write_all(&answer);
    loaded.map(drop)
}

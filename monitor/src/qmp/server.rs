//! The listening socket and one thread pair per client: a reader that
//! handles requests in order, and a writer that sends answers and events
//! from the client's queue, so that a client that stops reading never
//! holds up a command or another client.

use super::events::{Events, Subscription};
use super::framing::{Frame, Framer, MAX_REQUEST};
use super::session::Session;
use super::wire::{self, QmpError};
use crate::monitor::Monitor;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How many clients may be connected at once; one more is told so and
/// disconnected.
pub const MAX_CLIENTS: usize = 64;

/// Where the server listens, from QEMU's `-qmp` spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:PATH`.
    Unix(PathBuf),
    /// `tcp:HOST:PORT`.
    Tcp(String),
}

impl Endpoint {
    /// Parses `unix:PATH,server=on,wait=off` or
    /// `tcp:HOST:PORT,server=on,wait=off` (also QEMU's older `server` and
    /// `nowait`). The server never waits for a client before the machine
    /// starts, so `wait=off` is required, as is `server`.
    ///
    /// ```
    /// use qom_monitor::qmp::Endpoint;
    ///
    /// assert_eq!(
    ///     Endpoint::parse("tcp:127.0.0.1:4444,server=on,wait=off"),
    ///     Ok(Endpoint::Tcp("127.0.0.1:4444".into()))
    /// );
    /// assert!(Endpoint::parse("unix:/tmp/q.sock,server=on").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<Endpoint, String> {
        let mut parts = spec.split(',');
        let address = parts.next().unwrap_or_default();
        let (mut server, mut nowait) = (false, false);
        for option in parts {
            match option {
                "server" | "server=on" => server = true,
                "nowait" | "wait=off" => nowait = true,
                "server=off" => {
                    return Err(format!("-qmp {spec}: qom only listens: server=off (connecting out) is not supported"))
                }
                "wait=on" => {
                    return Err(format!("-qmp {spec}: wait=on is not supported: the machine starts without waiting for a client; use wait=off"))
                }
                other => return Err(format!("-qmp {spec}: unknown option `{other}`; expected server=on and wait=off")),
            }
        }
        if !server || !nowait {
            return Err(format!(
                "-qmp {spec}: give server=on,wait=off (qom listens and does not wait for a client)"
            ));
        }
        if let Some(path) = address.strip_prefix("unix:").filter(|p| !p.is_empty()) {
            Ok(Endpoint::Unix(path.into()))
        } else if let Some(host_port) = address.strip_prefix("tcp:").filter(|p| p.contains(':')) {
            Ok(Endpoint::Tcp(host_port.to_string()))
        } else {
            Err(format!(
                "-qmp {spec}: expected unix:PATH or tcp:HOST:PORT before the options"
            ))
        }
    }
}

/// A client's outgoing queue, with the count of lines not yet written,
/// so that `quit` can wait until every client has its `SHUTDOWN`.
#[derive(Clone)]
pub(crate) struct Outbox {
    queue: Sender<String>,
    pending: Arc<AtomicUsize>,
}

impl Outbox {
    /// An outbox sending on `queue`.
    pub(crate) fn new(queue: Sender<String>) -> Outbox {
        Outbox {
            queue,
            pending: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Queues `line`; false when the client has gone.
    pub(crate) fn send(&self, line: String) -> bool {
        // Relaxed everywhere: the count is a hint for `drain`, which also
        // has a deadline; no data is published through it.
        self.pending.fetch_add(1, Ordering::Relaxed);
        let sent = self.queue.send(line).is_ok();
        if !sent {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// Lines queued and not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

/// A running QMP server. Dropping it stops accepting clients (those
/// connected keep their threads until they disconnect or the process
/// ends) and removes the Unix socket file.
pub struct QmpServer {
    endpoint: Endpoint,
    local: String,
    events: Events,
}

/// A stream a client talks over.
trait Stream: Read + Write + Send + 'static {
    fn try_clone_stream(&self) -> io::Result<Box<dyn Stream>>;
    fn shutdown_both(&self);
    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()>;
}

impl Stream for UnixStream {
    fn try_clone_stream(&self) -> io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        UnixStream::set_write_timeout(self, Some(timeout))
    }
}

impl Stream for TcpStream {
    fn try_clone_stream(&self) -> io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        TcpStream::set_write_timeout(self, Some(timeout))
    }
}

impl QmpServer {
    /// Listens at `endpoint` and serves each client on its own threads.
    /// Commands run on `monitor`, one at a time across all clients (and
    /// the HMP session); `on_quit` runs after a client's `quit` has been
    /// answered and every client's queue has drained.
    pub fn start(
        endpoint: Endpoint,
        monitor: Arc<Mutex<Monitor>>,
        on_quit: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<QmpServer, String> {
        let events = monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events()
            .clone();
        let clients = Arc::new(AtomicUsize::new(0));
        let context = Arc::new(Context {
            monitor,
            events: events.clone(),
            on_quit,
            clients,
        });
        let local = match &endpoint {
            Endpoint::Unix(path) => {
                // QEMU replaces a stale socket file, as a restart leaves one.
                let _ = std::fs::remove_file(path);
                let listener = UnixListener::bind(path)
                    .map_err(|e| format!("-qmp unix:{}: cannot listen: {e}", path.display()))?;
                thread::Builder::new()
                    .name("qmp-accept".into())
                    .spawn(move || {
                        for stream in listener.incoming() {
                            match stream {
                                Ok(stream) => serve(Box::new(stream), &context),
                                Err(_) => accept_failed(),
                            }
                        }
                    })
                    .map_err(|e| format!("cannot start the QMP thread: {e}"))?;
                path.display().to_string()
            }
            Endpoint::Tcp(address) => {
                let listener = TcpListener::bind(address)
                    .map_err(|e| format!("-qmp tcp:{address}: cannot listen: {e}"))?;
                let local = listener
                    .local_addr()
                    .map_or_else(|_| address.clone(), |a| a.to_string());
                thread::Builder::new()
                    .name("qmp-accept".into())
                    .spawn(move || {
                        for stream in listener.incoming() {
                            match stream {
                                Ok(stream) => {
                                    let _ = stream.set_nodelay(true);
                                    serve(Box::new(stream), &context);
                                }
                                Err(_) => accept_failed(),
                            }
                        }
                    })
                    .map_err(|e| format!("cannot start the QMP thread: {e}"))?;
                local
            }
        };
        Ok(QmpServer {
            endpoint,
            local,
            events,
        })
    }

    /// Where it listens: the socket path, or `HOST:PORT` with the port
    /// the system chose for port 0.
    pub fn local_address(&self) -> &str {
        &self.local
    }

    /// Waits (up to `timeout`) until every negotiated client's queue is
    /// written out: before the process ends, so that `SHUTDOWN` arrives.
    pub fn drain(&self, timeout: Duration) {
        drain(&self.events, timeout);
    }
}

impl Drop for QmpServer {
    fn drop(&mut self) {
        if let Endpoint::Unix(path) = &self.endpoint {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn drain(events: &Events, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while events.pending() > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
}

/// After a failed `accept` (out of file descriptors, most likely): wait
/// a little rather than spin, so that clients leaving can free some.
fn accept_failed() {
    thread::sleep(Duration::from_millis(10));
}

/// How long a write to a client may block before the client counts as
/// gone: one that stops reading cannot keep its threads forever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many answers and events may wait for a client; past this the
/// server reads no more of its requests until it reads its answers.
pub const MAX_PENDING: usize = 1024;

/// What every client thread shares.
struct Context {
    monitor: Arc<Mutex<Monitor>>,
    events: Events,
    on_quit: Arc<dyn Fn() + Send + Sync>,
    clients: Arc<AtomicUsize>,
}

/// Starts the threads of a new client, or turns it away when there are
/// [`MAX_CLIENTS`] already.
fn serve(mut stream: Box<dyn Stream>, context: &Arc<Context>) {
    // Only the accept thread increments, so check-then-add cannot race
    // past the limit; Relaxed: a count, publishing nothing.
    if context.clients.load(Ordering::Relaxed) >= MAX_CLIENTS {
        let error = QmpError::generic(format!(
            "too many QMP clients: at most {MAX_CLIENTS} at once"
        ));
        let _ = stream.write_all(wire::failure(error, None).as_bytes());
        stream.shutdown_both();
        return;
    }
    context.clients.fetch_add(1, Ordering::Relaxed);
    let for_thread = Arc::clone(context);
    let spawned = thread::Builder::new()
        .name("qmp-client".into())
        .spawn(move || {
            client(stream, &for_thread);
            for_thread.clients.fetch_sub(1, Ordering::Relaxed);
        });
    if spawned.is_err() {
        // The closure, and with it the stream, is gone: the client sees
        // the connection close. Give back its place.
        context.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One client, from greeting to disconnection (or `quit`).
fn client(stream: Box<dyn Stream>, context: &Context) {
    let Ok(mut output) = stream.try_clone_stream() else {
        return;
    };
    if output.set_write_timeout(WRITE_TIMEOUT).is_err() {
        return;
    }
    let (queue, lines) = mpsc::channel::<String>();
    let outbox = Outbox::new(queue);
    let pending = Arc::clone(&outbox.pending);
    let writer = thread::Builder::new()
        .name("qmp-writer".into())
        .spawn(move || {
            for line in lines {
                let written = output
                    .write_all(line.as_bytes())
                    .and_then(|()| output.flush());
                pending.fetch_sub(1, Ordering::Relaxed);
                if written.is_err() {
                    // The client has gone; the reader sees it too.
                    output.shutdown_both();
                    break;
                }
            }
        });
    let Ok(writer) = writer else {
        return;
    };
    outbox.send(wire::greeting());
    let mut session = Session::new();
    let mut subscription: Option<Subscription> = None;
    let mut input = stream;
    let mut framer = Framer::new();
    let (mut chunk, mut frames) = (vec![0u8; 64 * 1024], Vec::new());
    let mut quit = false;
    // End of input (a partial request at the end is dropped, never run)
    // or a broken connection ends the loop.
    'connection: loop {
        let read = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        framer.push(&chunk[..read], &mut frames);
        for frame in frames.drain(..) {
            // Backpressure: a client that sends without reading its
            // answers is not read further until it does (or until its
            // writer gives up on it, after WRITE_TIMEOUT).
            while outbox.pending() >= MAX_PENDING {
                if writer.is_finished() {
                    break 'connection;
                }
                thread::sleep(Duration::from_millis(1));
            }
            let request = match frame {
                Frame::Request(request) => request,
                Frame::TooLong => {
                    let error = QmpError::generic(format!(
                        "QMP input is longer than {MAX_REQUEST} bytes; it was skipped"
                    ));
                    outbox.send(wire::failure(error, None));
                    continue;
                }
            };
            let answer = session.handle(&request, &context.monitor);
            outbox.send(answer.line);
            if answer.negotiated {
                subscription = Some(context.events.subscribe(outbox.clone()));
            }
            if answer.quit {
                quit = true;
                break 'connection;
            }
        }
    }
    drop(subscription);
    drop(outbox);
    let _ = writer.join();
    if quit {
        drain(&context.events, Duration::from_secs(2));
        (context.on_quit)();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_qemus_spelling() {
        assert_eq!(
            Endpoint::parse("unix:/tmp/x.sock,server,nowait"),
            Ok(Endpoint::Unix("/tmp/x.sock".into()))
        );
        assert!(Endpoint::parse("tcp:127.0.0.1,server=on,wait=off").is_err());
        assert!(Endpoint::parse("unix:/x,server=on,wait=on")
            .unwrap_err()
            .contains("wait=on"));
        assert!(Endpoint::parse("stdio,server=on,wait=off").is_err());
    }
}

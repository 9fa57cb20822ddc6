//! Where qtest commands come from and replies go: `-qtest stdio` (the
//! process's standard streams) or `-qtest unix:PATH` (a Unix socket the
//! test listens on and `qom` connects to, as QEMU's chardev does without
//! `server=on`, which is how libqtest starts QEMU).

use super::protocol::{IrqSink, QtestSession};
use qom_devices::Machine;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A `-qtest` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QtestEndpoint {
    /// `stdio`.
    Stdio,
    /// `unix:PATH`: connect to a listening socket at `PATH`.
    Unix(PathBuf),
}

impl QtestEndpoint {
    /// Parses `stdio` or `unix:PATH`.
    ///
    /// ```
    /// use qom_monitor::qtest::QtestEndpoint;
    ///
    /// assert_eq!(QtestEndpoint::parse("stdio"), Ok(QtestEndpoint::Stdio));
    /// assert_eq!(
    ///     QtestEndpoint::parse("unix:/tmp/q.sock"),
    ///     Ok(QtestEndpoint::Unix("/tmp/q.sock".into()))
    /// );
    /// assert!(QtestEndpoint::parse("tcp:localhost:1").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<QtestEndpoint, String> {
        match spec.split_once(':') {
            _ if spec == "stdio" => Ok(QtestEndpoint::Stdio),
            Some(("unix", path)) if !path.is_empty() && !path.contains(',') => {
                Ok(QtestEndpoint::Unix(path.into()))
            }
            _ => Err(format!(
                "-qtest {spec}: expected `stdio` or `unix:PATH` (a socket the test listens on)"
            )),
        }
    }

    /// Serves qtest on `machine` until the other side closes the stream.
    pub fn serve(&self, machine: Arc<Machine>) -> Result<(), String> {
        match self {
            QtestEndpoint::Stdio => serve(
                machine,
                std::io::stdin().lock(),
                Box::new(std::io::stdout()),
            ),
            QtestEndpoint::Unix(path) => {
                let stream = std::os::unix::net::UnixStream::connect(path)
                    .map_err(|e| format!("-qtest unix:{}: cannot connect: {e}", path.display()))?;
                let writer = stream
                    .try_clone()
                    .map_err(|e| format!("-qtest unix:{}: {e}", path.display()))?;
                serve(machine, BufReader::new(stream), Box::new(writer))
            }
        }
    }
}

/// Answers each line of `input` on `output` until the end of `input`.
/// Interrupt notifications share `output`: each line is written whole,
/// under its lock.
pub fn serve(
    machine: Arc<Machine>,
    input: impl BufRead,
    output: Box<dyn Write + Send>,
) -> Result<(), String> {
    let output = Arc::new(Mutex::new(output));
    let send = {
        let output = Arc::clone(&output);
        move |text: String| {
            let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
            // A closed peer ends the loop at its next read; nothing to
            // report from here.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    };
    let irq_sink: IrqSink = Arc::new(send.clone());
    let mut session = QtestSession::new(machine, irq_sink);
    for line in input.split(b'\n') {
        let line = line.map_err(|e| format!("qtest: reading a command: {e}"))?;
        let line = String::from_utf8_lossy(&line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        send(session.handle(line));
    }
    Ok(())
}

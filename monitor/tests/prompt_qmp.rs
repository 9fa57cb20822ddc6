//! The interactive prompt and a QMP client on the same machine at once:
//! what one plugs the other sees, QMP's `device_del` of a device the
//! prompt plugged sends `DEVICE_DELETED`, and QMP's `quit` ends the
//! process while the prompt waits for a line.
//!
//! One test in its own binary, as `prompt.rs`: the pseudo-terminal's
//! child is forked, and no other test thread may be running then.
#![cfg(all(unix, not(miri)))]

use rexpect::process::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

const TIMEOUT_MS: u64 = 20_000;

fn prompt(p: &mut PtySession) {
    if let Err(e) = p.exp_regex(r"\n\r?\(qom\) ") {
        panic!("no fresh prompt: {e}");
    }
}

fn line(p: &mut PtySession, keys: &str, output: &str) {
    p.send(&format!("{keys}\r")).unwrap();
    p.flush().unwrap();
    if let Err(e) = p.exp_string(output) {
        panic!("after {keys:?}, no {output:?}: {e}");
    }
    prompt(p);
}

/// A negotiated QMP client, reading one JSON line at a time.
struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    fn connect(socket: &std::path::Path) -> Qmp {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(stream) => break stream,
                Err(e) => assert!(Instant::now() < deadline, "no QMP socket: {e}"),
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut qmp = Qmp {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        assert!(qmp.read().get("QMP").is_some(), "a greeting");
        assert_eq!(
            qmp.execute("qmp_capabilities", json!({})),
            json!({"return": {}})
        );
        qmp
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    /// The answer; events before it are returned apart.
    fn execute_with_events(&mut self, command: &str, arguments: Value) -> (Value, Vec<Value>) {
        let request = json!({"execute": command, "arguments": arguments});
        self.writer
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let mut events = Vec::new();
        loop {
            let message = self.read();
            if message.get("event").is_some() {
                events.push(message);
            } else {
                return (message, events);
            }
        }
    }

    fn execute(&mut self, command: &str, arguments: Value) -> Value {
        self.execute_with_events(command, arguments).0
    }
}

#[test]
fn the_prompt_and_a_qmp_client_drive_one_machine() {
    let dir = std::env::temp_dir().join(format!("qomp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("q.sock");
    let mut qom = Command::new(env!("CARGO_BIN_EXE_qom"));
    qom.env("TERM", "xterm")
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", socket.display()));
    let options = Options::new()
        .timeout_ms(Some(TIMEOUT_MS))
        .strip_ansi_escape_codes(true);
    let mut p = spawn_with_options(qom, options).expect("qom starts in a pseudo-terminal");
    p.exp_string("qom monitor on machine `virt`")
        .expect("the banner");
    prompt(&mut p);
    line(&mut p, "device_add xhci-pci,id=typed", "");
    let mut qmp = Qmp::connect(&socket);
    let path = "/machine/peripheral/typed";
    assert_eq!(
        qmp.execute("qom-get", json!({"path": path, "property": "type"})),
        json!({"return": "xhci-pci"})
    );
    let (answer, events) = qmp.execute_with_events("device_del", json!({"id": "typed"}));
    assert_eq!(answer, json!({"return": {}}));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"], json!({"device": "typed", "path": path}));
    // The prompt sees it gone (the error line shares the terminal).
    line(
        &mut p,
        "qom-get /machine/peripheral/typed type",
        "Error: no object at path `/machine/peripheral/typed`",
    );
    qmp.execute("device_add", json!({"driver": "xhci-pci", "id": "fromqmp"}));
    line(
        &mut p,
        "qom-get /machine/peripheral/fromqmp type",
        "xhci-pci",
    );
    // QMP's quit ends the process while the prompt waits for a line.
    assert_eq!(qmp.execute("quit", json!({})), json!({"return": {}}));
    p.exp_eof().expect("qom exits");
    match p.process().wait() {
        Ok(WaitStatus::Exited(_, 0)) => {}
        other => panic!("qom did not exit with status 0: {other:?}"),
    }
    assert!(!socket.exists(), "the socket file is removed");
    let _ = std::fs::remove_dir_all(dir);
}

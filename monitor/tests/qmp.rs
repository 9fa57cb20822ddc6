//! QMP through a real socket: the `qom` binary started with `-qmp`, and
//! clients that speak the protocol byte by byte, as `qemu.qmp` does
//! (requests without a trailing newline). Negotiation per client, the
//! commands, events, and bad input that must leave the server serving
//! and the machine unchanged. (`.ci/qmp.sh` drives the same binary with
//! QEMU's own Python client.)
#![cfg(not(miri))]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A `qom` process serving QMP on a Unix socket of its own; killed when
/// dropped.
struct Qom {
    child: Child,
    socket: PathBuf,
}

impl Qom {
    fn start(args: &[&str]) -> Qom {
        Qom::start_with_stdin(args, "")
    }

    /// `args` plus `-qmp unix:...`; `script` is HMP on standard input.
    fn start_with_stdin(args: &[&str], script: &str) -> Qom {
        // Short: a Unix socket path has at most 107 bytes.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("qomq-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("qmp.sock");
        let spec = format!("unix:{},server=on,wait=off", socket.display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_qom"))
            .args(args)
            .args(["-qmp", &spec])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qom runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "qom did not listen at {socket:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Qom { child, socket }
    }

    /// A client that has read the greeting (not negotiated).
    fn connect(&self) -> Client {
        let stream = UnixStream::connect(&self.socket).unwrap();
        let mut client = Client::new(
            Box::new(stream.try_clone().unwrap()),
            Box::new(stream.try_clone().unwrap()),
        );
        client.unix = Some(stream);
        client
    }

    /// A client that has negotiated.
    fn negotiated(&self) -> Client {
        let mut client = self.connect();
        assert_eq!(
            client.execute("qmp_capabilities", json!({})),
            json!({"return": {}})
        );
        client
    }

    /// Waits for the process to end; its exit status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "qom did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Qom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.socket.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

struct Client {
    reader: BufReader<Box<dyn Read + Send>>,
    writer: Box<dyn Write + Send>,
    /// The Unix stream, when it is one, for a second writer.
    unix: Option<UnixStream>,
    greeting: Value,
    /// Events read while waiting for an answer.
    events: Vec<Value>,
}

impl Client {
    fn new(read: Box<dyn Read + Send>, writer: Box<dyn Write + Send>) -> Client {
        let mut client = Client {
            reader: BufReader::new(read),
            writer,
            unix: None,
            greeting: Value::Null,
            events: Vec::new(),
        };
        client.greeting = client.read().expect("a greeting");
        client
    }

    /// Another handle writing to the same connection.
    fn writer_clone(&self) -> UnixStream {
        self.unix
            .as_ref()
            .expect("a Unix client")
            .try_clone()
            .unwrap()
    }

    fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("one JSON object a line")),
        }
    }

    /// Sends raw bytes (no newline added) and returns the next answer,
    /// keeping events aside.
    fn send(&mut self, bytes: &[u8]) -> Value {
        self.writer.write_all(bytes).unwrap();
        self.answer()
    }

    fn answer(&mut self) -> Value {
        loop {
            let message = self.read().expect("an answer");
            if message.get("event").is_some() {
                self.events.push(message);
            } else {
                return message;
            }
        }
    }

    fn execute(&mut self, command: &str, arguments: Value) -> Value {
        let request = json!({"execute": command, "arguments": arguments});
        self.send(request.to_string().as_bytes())
    }

    /// `return` of a command that must succeed.
    fn ok(&mut self, command: &str, arguments: Value) -> Value {
        let answer = self.execute(command, arguments.clone());
        match answer.get("return") {
            Some(value) => value.clone(),
            None => panic!("{command} {arguments}: {answer}"),
        }
    }

    /// `(class, desc)` of a command that must fail.
    fn error(&mut self, command: &str, arguments: Value) -> (String, String) {
        error_of(&self.execute(command, arguments))
    }

    /// The next event named `name` (read from the socket if not yet seen).
    fn event(&mut self, name: &str) -> Value {
        loop {
            if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
                return self.events.remove(i);
            }
            let message = self.read().expect("an event");
            assert!(message.get("event").is_some(), "not an event: {message}");
            self.events.push(message);
        }
    }
}

fn error_of(answer: &Value) -> (String, String) {
    let error = &answer["error"];
    assert!(error.is_object(), "not an error: {answer}");
    (
        error["class"].as_str().unwrap().to_string(),
        error["desc"].as_str().unwrap().to_string(),
    )
}

fn peripherals(client: &mut Client) -> Vec<String> {
    let list = client.ok("qom-list", json!({"path": "/machine/peripheral"}));
    list.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("child<"))
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn greeting_negotiation_and_the_object_model_commands() {
    let qom = Qom::start(&[]);
    let mut client = qom.connect();
    let version = client.greeting["QMP"]["version"].clone();
    assert_eq!(
        version["package"],
        format!("qom {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(client.greeting["QMP"]["capabilities"], json!([]));
    // Nothing before negotiation, with the request's id echoed.
    let early = client.send(br#"{"execute": "query-version", "id": "a1"}"#);
    assert_eq!(early["id"], "a1");
    assert_eq!(
        error_of(&early),
        (
            "CommandNotFound".into(),
            "Expecting capabilities negotiation with 'qmp_capabilities'".into()
        )
    );
    let negotiated = client.send(br#"{"execute": "qmp_capabilities", "id": 1}"#);
    assert_eq!(negotiated, json!({"return": {}, "id": 1}));
    assert_eq!(client.ok("query-version", json!({})), version);
    let names: Vec<Value> = client
        .ok("query-commands", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    for name in [
        "qom-get",
        "device_add",
        "device_del",
        "human-monitor-command",
        "query-pci",
    ] {
        assert!(names.contains(&json!(name)), "{name} in {names:?}");
    }
    assert_eq!(
        client.ok(
            "qom-get",
            json!({"path": "/machine/soc/uarts[1]", "property": "type"})
        ),
        "pl011"
    );
    let list = client.ok("qom-list", json!({"path": "/machine/soc"}));
    assert!(
        list.as_array()
            .unwrap()
            .contains(&json!({"name": "uarts[0]", "type": "child<pl011>"})),
        "{list}"
    );
    let types = client.ok("qom-list-types", json!({"implements": "pci-device"}));
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"xhci-pci") && !names.contains(&"pl011"),
        "{names:?}"
    );
    let with_abstract = client.ok(
        "qom-list-types",
        json!({"implements": "device", "abstract": true}),
    );
    assert!(
        with_abstract
            .as_array()
            .unwrap()
            .contains(&json!({"name": "pci-device", "parent": "device", "abstract": true})),
        "{with_abstract}"
    );
    let props = client.ok("device-list-properties", json!({"typename": "xhci-pci"}));
    let ports = props
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "num-ports")
        .unwrap();
    assert_eq!(ports["type"], "uint32");
    assert_eq!(ports["default-value"], 4);
    assert_eq!(
        client
            .error("device-list-properties", json!({"typename": "pl011x"}))
            .0,
        "DeviceNotFound"
    );
    let hmp = client.ok(
        "human-monitor-command",
        json!({"command-line": "qom-get /machine/soc/uarts[0] type"}),
    );
    assert_eq!(hmp, "\"pl011\"\n", "a string, quoted as QEMU's HMP does");
    let hmp_error = client.ok(
        "human-monitor-command",
        json!({"command-line": "qom-get /nowhere type"}),
    );
    assert!(
        hmp_error
            .as_str()
            .unwrap()
            .starts_with("Error: no object at path `/nowhere`"),
        "{hmp_error}"
    );
    let schema = client.ok("query-qmp-schema", json!({}));
    let qom_set = schema
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qom-set")
        .unwrap();
    assert_eq!(qom_set["meta-type"], "command");
}

#[test]
fn device_add_and_del_send_device_deleted_to_each_negotiated_client() {
    let qom = Qom::start(&[]);
    let mut a = qom.negotiated();
    let mut b = qom.negotiated();
    let mut silent = qom.connect();
    a.ok(
        "device_add",
        json!({"driver": "xhci-pci", "id": "usb0", "num-ports": 8}),
    );
    assert_eq!(
        b.ok(
            "qom-get",
            json!({"path": "/machine/peripheral/usb0", "property": "num-ports"})
        ),
        8
    );
    let pci = a.ok("query-pci", json!({}));
    let usb = pci[0]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["qdev_id"] == "usb0")
        .cloned()
        .unwrap();
    assert_eq!(usb["class_info"]["class"], 0x0c03);
    assert_eq!(usb["regions"][0]["size"], 16384);
    // qom-set before realize only: refused now, naming the property.
    let (class, desc) = a.error(
        "qom-set",
        json!({"path": "/machine/peripheral/usb0", "property": "num-ports", "value": 2}),
    );
    assert_eq!(class, "GenericError");
    assert!(desc.contains("num-ports"), "{desc}");
    a.ok("device_del", json!({"id": "usb0"}));
    for client in [&mut a, &mut b] {
        let event = client.event("DEVICE_DELETED");
        assert_eq!(
            event["data"],
            json!({"device": "usb0", "path": "/machine/peripheral/usb0"})
        );
        assert!(event["timestamp"]["seconds"].as_u64().unwrap() > 0);
    }
    assert_eq!(
        a.error(
            "qom-get",
            json!({"path": "/machine/peripheral/usb0", "property": "type"})
        )
        .0,
        "DeviceNotFound"
    );
    assert_eq!(
        a.error("device_del", json!({"id": "usb0"})).0,
        "DeviceNotFound"
    );
    // HMP's device_del, through human-monitor-command, is the same
    // operation and sends the same event.
    a.ok("device_add", json!({"driver": "xhci-pci", "id": "usb1"}));
    assert_eq!(
        a.ok(
            "human-monitor-command",
            json!({"command-line": "device_del usb1"})
        ),
        ""
    );
    assert_eq!(b.event("DEVICE_DELETED")["data"]["device"], "usb1");
    // The client that never negotiated got no event: its next message is
    // the answer to its request.
    let answer = silent.send(br#"{"execute": "qmp_capabilities"}"#);
    assert_eq!(answer, json!({"return": {}}));
    assert!(silent.events.is_empty(), "{:?}", silent.events);
}

#[test]
fn bad_requests_get_qemus_error_shape_and_the_server_goes_on() {
    let qom = Qom::start(&[]);
    let mut c = qom.negotiated();
    let before = peripherals(&mut c);
    let cases: &[(&[u8], &str, &str)] = &[
        (b"{\"execute\": ", "GenericError", "JSON parse error"),
        (b"[1, 2]", "GenericError", "QMP input must be a JSON object"),
        (b"{\"arguments\": {}}", "GenericError", "QMP input lacks member 'execute'"),
        (b"{\"execute\": \"x\", \"foo\": 1}", "GenericError", "QMP input member 'foo' is unexpected"),
        (b"{\"execute\": \"no-such-command\"}", "CommandNotFound", "The command no-such-command has not been found"),
        (b"{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine\"}}", "GenericError", "Parameter 'property' is missing"),
        (b"{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"/machine\", \"property\": \"type\", \"x\": 1}}", "GenericError", "Parameter 'x' is unexpected"),
        (b"{\"execute\": \"qom-get\", \"arguments\": {\"path\": 5, \"property\": \"type\"}}", "GenericError", "Invalid parameter type for 'path', expected: string"),
        (b"{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"xhci-pci\", \"num-ports\": [1]}}", "GenericError", "Invalid parameter type for 'num-ports'"),
        (b"{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"xhci-pci\", \"bus\": \"pci.7\"}}", "GenericError", "Bus 'pci.7' not found"),
        (b"{\"execute\": \"qmp_capabilities\"}", "CommandNotFound", "Capabilities negotiation is already complete"),
    ];
    for (request, class, desc) in cases {
        // The malformed one completes with `}`, ending it as the client
        // would by closing the object.
        let answer = if request.ends_with(b": ") {
            c.writer.write_all(request).unwrap();
            c.send(b"}")
        } else {
            c.send(request)
        };
        let (got_class, got_desc) = error_of(&answer);
        assert_eq!(got_class, *class, "{}", String::from_utf8_lossy(request));
        assert!(
            got_desc.starts_with(desc),
            "{}: {got_desc}",
            String::from_utf8_lossy(request)
        );
    }
    // A 16 MiB line: refused, skipped to its newline, and the next
    // request is answered.
    let mut huge = b"{\"execute\": \"qom-get\", \"arguments\": {\"path\": \"".to_vec();
    huge.resize(16 << 20, b'a');
    huge.push(b'\n');
    let (class, desc) = error_of(&c.send(&huge));
    assert_eq!(class, "GenericError");
    assert!(desc.contains("longer than"), "{desc}");
    assert_eq!(
        c.ok(
            "qom-get",
            json!({"path": "/machine/soc", "property": "type"})
        ),
        "virt-soc"
    );
    // A client that disconnects mid-request and one that never
    // negotiates: nothing runs, others are served.
    let mut half = qom.negotiated();
    half.writer
        .write_all(br#"{"execute": "device_add", "arguments": {"driver": "xhci-pci", "id": "half""#)
        .unwrap();
    drop(half);
    let idle = qom.connect();
    assert_eq!(
        c.ok("qom-get", json!({"path": "/machine", "property": "type"})),
        "virt-machine"
    );
    assert_eq!(peripherals(&mut c), before);
    drop(idle);
}

#[test]
fn two_clients_adding_the_same_id_at_once_exactly_one_wins() {
    let qom = Qom::start(&[]);
    for round in 0..5 {
        let id = format!("race{round}");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let mut client = qom.negotiated();
                let (barrier, id) = (barrier.clone(), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    client.execute("device_add", json!({"driver": "xhci-pci", "id": id}))
                })
            })
            .collect();
        let answers: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let wins = answers.iter().filter(|a| a.get("return").is_some()).count();
        assert_eq!(wins, 1, "{answers:?}");
        let loser = answers.iter().find(|a| a.get("error").is_some()).unwrap();
        assert!(
            error_of(loser).1.contains(&format!("duplicate id `{id}`")),
            "{loser}"
        );
    }
    let mut c = qom.negotiated();
    assert_eq!(
        peripherals(&mut c),
        ["race0", "race1", "race2", "race3", "race4"]
    );
}

#[test]
fn quit_answers_then_sends_shutdown_to_everyone_and_the_process_ends() {
    let mut qom = Qom::start_with_stdin(&[], "device_add xhci-pci,id=fromhmp\n");
    let mut watcher = qom.negotiated();
    // The HMP script ran on the same machine; its end did not end qom.
    let deadline = Instant::now() + Duration::from_secs(10);
    while watcher
        .execute(
            "qom-get",
            json!({"path": "/machine/peripheral/fromhmp", "property": "type"}),
        )
        .get("return")
        .is_none()
    {
        assert!(Instant::now() < deadline, "the HMP script's device_add ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = qom.negotiated();
    assert_eq!(
        c.send(br#"{"execute": "quit", "id": 9}"#),
        json!({"return": {}, "id": 9})
    );
    let shutdown = watcher.event("SHUTDOWN");
    assert_eq!(
        shutdown["data"],
        json!({"guest": false, "reason": "host-qmp-quit"})
    );
    assert!(qom.wait().success());
    assert!(!qom.socket.exists(), "the socket file is removed at quit");
}

#[test]
fn tcp_endpoints_serve_the_same_protocol() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = format!("tcp:127.0.0.1:{port},server=on,wait=off");
    let qom = Qom::start(&["-qmp", &spec]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(e) => assert!(Instant::now() < deadline, "{e}"),
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut tcp = Client::new(Box::new(stream.try_clone().unwrap()), Box::new(stream));
    tcp.ok("qmp_capabilities", json!({}));
    tcp.ok("device_add", json!({"driver": "xhci-pci", "id": "overtcp"}));
    // The Unix socket's client sees the device the TCP client plugged.
    let mut unix = qom.negotiated();
    assert_eq!(peripherals(&mut unix), ["overtcp"]);
    tcp.ok("device_del", json!({"id": "overtcp"}));
    assert_eq!(
        unix.event("DEVICE_DELETED")["data"]["path"],
        "/machine/peripheral/overtcp"
    );
}

#[test]
fn bad_qmp_options_stop_qom_with_one_error_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(["-qmp", "unix:/tmp/x.sock,server=on,wait=on", "-c", "quit"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "Error: -qmp unix:/tmp/x.sock,server=on,wait=on: wait=on is not supported"
        ),
        "{stderr}"
    );
}

#[test]
fn a_running_guest_sends_resume_stop_reset_and_its_own_shutdown() {
    if let Err(e) = qom_vmm::kvm_available() {
        eprintln!("skipped: {e}");
        return;
    }
    // `bench` reads the xHCI BAR and debugcon a million times each, then
    // exits through isa-debug-exit: a guest that shuts down by itself.
    let bench = match qom_test_support::guests::path("bench") {
        Ok(path) => path,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let bios = bench.display().to_string();
    let qom = Qom::start(&[
        "-M",
        "pc",
        "-accel",
        "kvm",
        "-S",
        "-bios",
        &bios,
        "-serial",
        "null",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=4",
        "-device",
        "xhci-pci,id=usb0",
    ]);
    let mut c = qom.negotiated();
    let status = |c: &mut Client| c.ok("query-status", json!({}))["status"].clone();
    assert_eq!(status(&mut c), "prelaunch");
    c.ok("stop", json!({}));
    assert!(
        c.events.is_empty(),
        "stop while not running sends nothing: {:?}",
        c.events
    );
    c.ok("system_reset", json!({}));
    assert_eq!(
        c.event("RESET")["data"],
        json!({"guest": false, "reason": "host-qmp-system-reset"})
    );
    c.ok("cont", json!({}));
    c.event("RESUME");
    let shutdown = c.event("SHUTDOWN");
    assert_eq!(
        shutdown["data"],
        json!({"guest": true, "reason": "guest-shutdown"})
    );
    c.event("STOP");
    assert_eq!(status(&mut c), "shutdown");
    let (class, desc) = c.error("cont", json!({}));
    assert_eq!(class, "GenericError");
    assert!(desc.contains("system_reset"), "{desc}");
}

/// The live count of `type_name` in `info lifetime`'s output.
fn live(lifetime: &str, type_name: &str) -> u64 {
    let line = lifetime
        .lines()
        .find(|l| l.split_whitespace().next() == Some(type_name))
        .unwrap_or_else(|| panic!("no {type_name} in {lifetime}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    words[2].parse().unwrap()
}

#[test]
fn device_deleted_is_sent_once_out_of_the_tree_even_while_an_access_holds_its_state() {
    let qom = Qom::start(&[]);
    let mut c = qom.negotiated();
    let hmp = |c: &mut Client, line: &str| {
        c.ok("human-monitor-command", json!({"command-line": line}))
            .as_str()
            .unwrap()
            .to_string()
    };
    c.ok("device_add", json!({"driver": "xhci-pci", "id": "usb0"}));
    let pci = c.ok("query-pci", json!({}));
    // devices[0] is the host bridge's function at 00.0.
    assert_eq!(pci[0]["devices"][0]["id"]["device"], 8, "gpex-root first");
    let bar = pci[0]["devices"][1]["regions"][0]["address"]
        .as_i64()
        .unwrap();
    // A guest read of BAR 0 stays in flight, holding the controller
    // state (the BAR's owner).
    let held = hmp(&mut c, &format!("mmio hold {bar:#x} 4"));
    assert!(held.contains("in flight"), "{held}");
    c.ok("device_del", json!({"id": "usb0"}));
    let event = c.event("DEVICE_DELETED");
    assert_eq!(event["data"]["path"], "/machine/peripheral/usb0");
    // When the event has been sent: the device is out of the tree and has
    // finalized; its controller state lives on for the access.
    let lifetime = hmp(&mut c, "info lifetime");
    assert_eq!(live(&lifetime, "xhci-pci"), 0, "{lifetime}");
    assert_eq!(live(&lifetime, "base-xhci"), 1, "{lifetime}");
    assert!(
        lifetime.contains("holding base-xhci at <detached>"),
        "{lifetime}"
    );
    // The access completes: the state finalizes then, with no second
    // event.
    assert!(hmp(&mut c, "mmio release").starts_with("access completed"));
    let lifetime = hmp(&mut c, "info lifetime");
    assert_eq!(live(&lifetime, "base-xhci"), 0, "{lifetime}");
    c.ok("query-version", json!({}));
    assert!(c.events.is_empty(), "{:?}", c.events);
}

#[test]
fn a_client_past_the_limit_is_told_so_and_the_others_stay_served() {
    let qom = Qom::start(&[]);
    let mut clients: Vec<Client> = (0..64).map(|_| qom.connect()).collect();
    let extra = UnixStream::connect(&qom.socket).unwrap();
    let mut reader = BufReader::new(extra);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let refused: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        error_of(&refused),
        (
            "GenericError".into(),
            "too many QMP clients: at most 64 at once".into()
        )
    );
    line.clear();
    assert_eq!(reader.read_line(&mut line).unwrap(), 0, "then disconnected");
    let last = clients.last_mut().unwrap();
    last.ok("qmp_capabilities", json!({}));
    assert_eq!(
        last.ok("qom-get", json!({"path": "/machine", "property": "type"})),
        "virt-machine"
    );
    // One leaves: a newcomer gets a greeting again.
    drop(clients.remove(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stream = UnixStream::connect(&qom.socket).unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.contains("\"QMP\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after a client left: {line}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn device_del_takes_a_path_which_reaches_devices_plugged_without_an_id() {
    let qom = Qom::start(&[]);
    let mut c = qom.negotiated();
    c.ok("device_add", json!({"driver": "xhci-pci"}));
    let anon = "/machine/peripheral-anon/device[0]";
    assert_eq!(
        c.ok("qom-get", json!({"path": anon, "property": "type"})),
        "xhci-pci"
    );
    // A board's own device is not for device_del, by path either.
    let (class, _) = c.error("device_del", json!({"id": "/machine/soc/uarts[0]"}));
    assert_eq!(class, "DeviceNotFound");
    c.ok("device_del", json!({"id": anon}));
    // No id: the event has the path alone, as QEMU's.
    assert_eq!(c.event("DEVICE_DELETED")["data"], json!({"path": anon}));
    c.ok("device_add", json!({"driver": "xhci-pci", "id": "named"}));
    c.ok("device_del", json!({"id": "/machine/peripheral/named"}));
    assert_eq!(
        c.event("DEVICE_DELETED")["data"],
        json!({"device": "named", "path": "/machine/peripheral/named"})
    );
}

#[test]
fn a_client_that_does_not_read_its_answers_is_held_back_and_loses_none() {
    let qom = Qom::start(&[]);
    let mut flooder = qom.negotiated();
    const REQUESTS: usize = 5000;
    // Written from another thread, while nobody reads the answers.
    let request = br#"{"execute": "query-version"}"#.repeat(REQUESTS);
    let mut sender = flooder.writer_clone();
    let flood = std::thread::spawn(move || sender.write_all(&request).is_ok());
    // Meanwhile another client is served.
    std::thread::sleep(Duration::from_millis(200));
    let mut other = qom.negotiated();
    assert_eq!(
        other.ok("qom-get", json!({"path": "/machine", "property": "type"})),
        "virt-machine"
    );
    // Every answer arrives once the flooder reads.
    for i in 0..REQUESTS {
        let answer = flooder.answer();
        assert!(
            answer["return"]["package"].is_string(),
            "answer {i}: {answer}"
        );
    }
    assert!(flood.join().unwrap(), "every request was read");
}

#[test]
fn hmp_quit_through_qmp_is_quit() {
    let mut qom = Qom::start(&[]);
    let mut watcher = qom.negotiated();
    let mut c = qom.negotiated();
    assert_eq!(
        c.execute("human-monitor-command", json!({"command-line": "quit"})),
        json!({"return": ""})
    );
    let shutdown = watcher.event("SHUTDOWN");
    assert_eq!(
        shutdown["data"],
        json!({"guest": false, "reason": "host-qmp-quit"})
    );
    assert!(qom.wait().success());
}

/// `migrate`, `query-migrate` and `migrate_cancel` over QMP: the same
/// implementation as HMP's `migrate` and `info migrate`. A failed
/// migration is an error naming the URI and leaves the machine running.
#[test]
fn migrate_query_migrate_and_migrate_cancel() {
    let snap = std::env::temp_dir().join(format!("qom-qmp-migrate-{}.snap", std::process::id()));
    let mut qom = Qom::start(&[]);
    let mut c = qom.negotiated();
    assert_eq!(c.ok("query-migrate", json!({})), json!({}));
    let uri = format!("file:{}", snap.display());
    assert_eq!(c.ok("migrate", json!({"uri": uri})), json!({}));
    let info = c.ok("query-migrate", json!({}));
    assert_eq!(info["status"], "completed");
    let size = std::fs::metadata(&snap).unwrap().len();
    assert_eq!(info["ram"]["transferred"], json!(size));
    assert!(info["total-time"].is_u64(), "{info}");
    let hmp = c.ok(
        "human-monitor-command",
        json!({"command-line": "info migrate"}),
    );
    assert_eq!(
        hmp,
        format!(
            "Migration status: completed\ntransferred ram: 0 kbytes\ndevice state: {size} bytes\n"
        )
    );
    assert_eq!(c.ok("migrate_cancel", json!({})), json!({}));

    let answer = c.execute("migrate", json!({"uri": "tcp:127.0.0.1"}));
    assert_eq!(
        error_of(&answer),
        (
            "GenericError".to_string(),
            "`tcp:127.0.0.1`: write `tcp:HOST:PORT`, as in `tcp:127.0.0.1:4444`".to_string()
        )
    );
    let info = c.ok("query-migrate", json!({}));
    assert_eq!(info["status"], "failed");
    assert_eq!(
        info["error-desc"],
        "`tcp:127.0.0.1`: write `tcp:HOST:PORT`, as in `tcp:127.0.0.1:4444`"
    );
    // The session carries on: the machine answers as before.
    assert_eq!(
        c.ok(
            "qom-get",
            json!({"path": "/machine/soc/uarts[1]", "property": "type"})
        ),
        "pl011"
    );
    c.ok("quit", json!({}));
    assert!(qom.wait().success());
    let _ = std::fs::remove_file(&snap);
}

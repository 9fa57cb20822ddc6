//! The QMP request path on a live machine: arbitrary bytes through the
//! framer (where each request ends) and a client session (negotiation,
//! the request checks, the argument checks, every command). Every
//! request is answered with one JSON object in QEMU's shape — `return`,
//! or `error` with a known class and a description — and nothing panics.
//! Each input gets a machine of its own, torn down after it (and checked
//! to be gone), as in `monitor_command`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qom_devices::Machine;
use qom_monitor::qmp::framing::{Frame, Framer};
use qom_monitor::qmp::Session;
use qom_monitor::Monitor;
use serde_json::Value;
use std::sync::Mutex;

/// Checks that `line` is one answer in QEMU's shape.
fn check_answer(line: &str) {
    assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "one line: {line:?}");
    let answer: Value = serde_json::from_str(line).expect("the answer is JSON");
    let object = answer.as_object().expect("the answer is an object");
    let keys: Vec<&str> = object.keys().map(String::as_str).filter(|k| *k != "id").collect();
    match keys.as_slice() {
        ["return"] => {}
        ["error"] => {
            let error = &object["error"];
            let class = error["class"].as_str().expect("a class");
            assert!(
                ["GenericError", "CommandNotFound", "DeviceNotFound"].contains(&class),
                "{class}"
            );
            assert!(error["desc"].is_string(), "{error}");
        }
        other => panic!("neither return nor error: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    // HMP through `human-monitor-command` could write files (`graph
    // --dot`, `migrate`) or wait for a console (`wait`): keep the fuzzer
    // off the disk and off the clock. Every other command runs.
    let text = String::from_utf8_lossy(data);
    if ["--dot", "--svg", "migrate", "wait"].iter().any(|w| text.contains(w)) {
        return;
    }
    let machine = Machine::create("virt").expect("the last input's machine is gone");
    let monitor = Mutex::new(Monitor::new(machine));
    let mut session = Session::new();
    // Inputs that do not negotiate themselves would only reach the
    // negotiation check: let the first byte choose.
    if data.first().is_some_and(|b| b & 1 == 1) {
        session.handle(br#"{"execute": "qmp_capabilities"}"#, &monitor);
    }
    let mut framer = Framer::new();
    let mut frames = Vec::new();
    framer.push(data.get(1..).unwrap_or_default(), &mut frames);
    for frame in frames {
        let Frame::Request(request) = frame else { continue };
        let answer = session.handle(&request, &monitor);
        check_answer(&answer.line);
        if answer.quit {
            break;
        }
    }
    drop(monitor);
    assert!(qom_rt::resolve_path("/machine").is_err(), "the machine left the tree");
    for (type_name, counts) in qom_devices::lifetime::counts() {
        assert_eq!(counts.live, 0, "a {type_name} outlived its machine");
    }
});

//! One client's protocol state, apart from any socket: capabilities
//! negotiation first, then commands. The server feeds it lines; the fuzz
//! target and the tests feed it bytes directly.

use super::commands;
use super::schema::{check_arguments, QapiType};
use super::wire::{self, ErrorClass, QmpError};
use crate::monitor::Monitor;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// A client's session: whether it has negotiated capabilities.
#[derive(Debug, Default)]
pub struct Session {
    negotiated: bool,
}

/// What handling one line gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The line to send back (with its newline).
    pub line: String,
    /// This line completed capabilities negotiation: events may flow now.
    pub negotiated: bool,
    /// The command asked the process to end (`quit`).
    pub quit: bool,
}

impl Session {
    /// A session waiting for `qmp_capabilities`.
    pub fn new() -> Session {
        Session::default()
    }

    /// Whether the client has negotiated.
    pub fn negotiated(&self) -> bool {
        self.negotiated
    }

    /// Handles one request line: parses it, checks it, runs it on the
    /// monitor (locked for the command only) and answers. Never panics on
    /// any input; a command that panics is answered with an error and the
    /// monitor stays usable.
    pub fn handle(&mut self, line: &[u8], monitor: &Mutex<Monitor>) -> Answer {
        let mut answer = Answer {
            line: String::new(),
            negotiated: false,
            quit: false,
        };
        let request = match wire::parse_request(line) {
            Ok(request) => request,
            Err(bad) => {
                answer.line = wire::failure(bad.error, bad.id);
                return answer;
            }
        };
        let id = request.id;
        let result = if !self.negotiated {
            if request.execute == "qmp_capabilities" {
                let result = negotiate(&request.arguments);
                if result.is_ok() {
                    self.negotiated = true;
                    answer.negotiated = true;
                }
                result
            } else {
                Err(QmpError::new(
                    ErrorClass::CommandNotFound,
                    "Expecting capabilities negotiation with 'qmp_capabilities'",
                ))
            }
        } else {
            match commands::find(&request.execute) {
                None => Err(QmpError::new(
                    ErrorClass::CommandNotFound,
                    format!("The command {} has not been found", request.execute),
                )),
                Some(command) => {
                    // A panic leaves the monitor's own state as consistent
                    // as the command left it; every other client must go
                    // on, so the lock is taken back from poisoning.
                    let mut monitor = monitor.lock().unwrap_or_else(|e| e.into_inner());
                    let arguments = request.arguments;
                    let result =
                        catch_unwind(AssertUnwindSafe(|| command.run(&mut monitor, arguments)))
                            .unwrap_or_else(|_| {
                                Err(QmpError::generic(format!(
                                    "command {} failed unexpectedly (a bug: it panicked)",
                                    command.name
                                )))
                            });
                    answer.quit = std::mem::take(&mut monitor.quit);
                    result
                }
            }
        };
        answer.line = match result {
            Ok(value) => wire::success(value, id),
            Err(error) => wire::failure(error, id),
        };
        answer
    }
}

/// `qmp_capabilities` before negotiation: the arguments are checked, and
/// any capability asked for is refused, since none is offered.
fn negotiate(arguments: &serde_json::Map<String, Value>) -> Result<Value, QmpError> {
    check_arguments(commands::CapabilitiesArgs::schema(), arguments, false)
        .map_err(QmpError::generic)?;
    if let Some(Value::Array(enable)) = arguments.get("enable") {
        if let Some(first) = enable.first() {
            let name = first
                .as_str()
                .map_or_else(|| first.to_string(), str::to_string);
            return Err(QmpError::generic(format!(
                "Capability '{name}' not available"
            )));
        }
    }
    Ok(Value::Object(Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qom_devices::Machine;

    fn answer(session: &mut Session, monitor: &Mutex<Monitor>, line: &str) -> Value {
        serde_json::from_str(&session.handle(line.as_bytes(), monitor).line).unwrap()
    }

    #[test]
    fn commands_wait_for_negotiation_which_happens_once() {
        let monitor = Mutex::new(Monitor::new(
            Machine::create_at("virt", "/qmp-session").unwrap(),
        ));
        let mut session = Session::new();
        let refused = answer(
            &mut session,
            &monitor,
            r#"{"execute": "query-version", "id": 1}"#,
        );
        assert_eq!(refused["error"]["class"], "CommandNotFound");
        assert_eq!(refused["id"], 1);
        let enable = answer(
            &mut session,
            &monitor,
            r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#,
        );
        assert_eq!(enable["error"]["desc"], "Capability 'oob' not available");
        assert!(!session.negotiated());
        let ok = session.handle(br#"{"execute": "qmp_capabilities"}"#, &monitor);
        assert!(ok.negotiated && session.negotiated());
        assert_eq!(ok.line, "{\"return\":{}}\n");
        let again = answer(&mut session, &monitor, r#"{"execute": "qmp_capabilities"}"#);
        assert_eq!(again["error"]["class"], "CommandNotFound");
        let got = answer(
            &mut session,
            &monitor,
            r#"{"execute": "qom-get", "arguments": {"path": "/qmp-session/soc/uarts[0]", "property": "type"}}"#,
        );
        assert_eq!(got["return"], "pl011");
        let unknown = answer(&mut session, &monitor, r#"{"execute": "no-such"}"#);
        assert_eq!(
            unknown["error"]["desc"],
            "The command no-such has not been found"
        );
    }
}

//! The wire format: what a client sends and what the server answers, as
//! QEMU's `docs/interop/qmp-spec.rst` describes it, parsed and written
//! with serde_json.
//!
//! Each message is one JSON object (the server sends each on a line of
//! its own; [`framing`](super::framing) finds where a request ends). A request is checked the
//! way QEMU's `qmp_dispatch_check_obj` checks it, with QEMU's error texts,
//! before any command sees it.

use super::schema::qapi_struct;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// QEMU's error classes (`qapi/error.json`), the ones this server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorClass {
    /// Anything without a more precise class.
    GenericError,
    /// No such command, or a command refused before negotiation.
    CommandNotFound,
    /// No device or object at the id or path given.
    DeviceNotFound,
}

/// A command's failure: QEMU's `{"class": ..., "desc": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QmpError {
    /// The error class.
    pub class: ErrorClass,
    /// One human-readable sentence.
    pub desc: String,
}

impl QmpError {
    /// A [`ErrorClass::GenericError`] with `desc`.
    pub fn generic(desc: impl Into<String>) -> QmpError {
        QmpError {
            class: ErrorClass::GenericError,
            desc: desc.into(),
        }
    }

    /// An error of `class` with `desc`.
    pub fn new(class: ErrorClass, desc: impl Into<String>) -> QmpError {
        QmpError {
            class,
            desc: desc.into(),
        }
    }
}

impl std::fmt::Display for QmpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.class, self.desc)
    }
}

impl std::error::Error for QmpError {}

/// A request that passed the checks every request gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The command name (`execute`).
    pub execute: String,
    /// Its arguments; `{}` when the request had none.
    pub arguments: Map<String, Value>,
    /// The client's `id`, any JSON value, echoed in the answer.
    pub id: Option<Value>,
}

/// A request that failed those checks: the error, and the `id` to echo
/// when the request was an object that had one.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    /// What is wrong.
    pub error: QmpError,
    /// The request's `id`, if it got far enough to have one.
    pub id: Option<Value>,
}

/// Parses one request line as QEMU does: a JSON object with a string
/// `execute`, an optional object `arguments`, an optional `id`, and
/// nothing else. `exec-oob` is refused: the server does not offer
/// out-of-band execution.
///
/// ```
/// use qom_monitor::qmp::wire::{parse_request, ErrorClass};
///
/// let r = parse_request(br#"{"execute": "qom-get", "arguments": {"path": "/machine", "property": "type"}, "id": 7}"#).unwrap();
/// assert_eq!((r.execute.as_str(), r.id), ("qom-get", Some(7.into())));
/// let bad = parse_request(b"[1, 2]").unwrap_err();
/// assert_eq!(bad.error.desc, "QMP input must be a JSON object");
/// assert_eq!(bad.error.class, ErrorClass::GenericError);
/// ```
pub fn parse_request(line: &[u8]) -> Result<Request, BadRequest> {
    let value: Value = serde_json::from_slice(line).map_err(|e| BadRequest {
        error: QmpError::generic(format!("JSON parse error, {e}")),
        id: None,
    })?;
    let Value::Object(mut object) = value else {
        return Err(BadRequest {
            error: QmpError::generic("QMP input must be a JSON object"),
            id: None,
        });
    };
    let id = object.remove("id");
    let bad = |desc: String| BadRequest {
        error: QmpError::generic(desc),
        id: id.clone(),
    };
    let mut execute = None;
    let mut arguments = Map::new();
    for (key, value) in object {
        match (key.as_str(), value) {
            ("execute", Value::String(name)) => execute = Some(name),
            ("execute" | "exec-oob", value) if !value.is_string() => {
                return Err(bad(format!("QMP input member '{key}' must be a string")))
            }
            ("arguments", Value::Object(args)) => arguments = args,
            ("arguments", _) => {
                return Err(bad(
                    "QMP input member 'arguments' must be an object".into()
                ))
            }
            ("exec-oob", _) => {
                return Err(bad(
                    "QMP input member 'exec-oob' is unexpected: out-of-band execution was not negotiated".into(),
                ))
            }
            (other, _) => return Err(bad(format!("QMP input member '{other}' is unexpected"))),
        }
    }
    let execute = execute.ok_or_else(|| bad("QMP input lacks member 'execute'".into()))?;
    Ok(Request {
        execute,
        arguments,
        id,
    })
}

/// A success: `{"return": ..., "id": ...}`, one line.
pub fn success(value: Value, id: Option<Value>) -> String {
    #[derive(Serialize)]
    struct Success {
        #[serde(rename = "return")]
        value: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
    }
    to_line(&Success { value, id })
}

/// A failure: `{"error": {"class": ..., "desc": ...}, "id": ...}`, one
/// line.
pub fn failure(error: QmpError, id: Option<Value>) -> String {
    #[derive(Serialize)]
    struct Failure {
        error: QmpError,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<Value>,
    }
    to_line(&Failure { error, id })
}

qapi_struct! {
    /// The version the greeting and `query-version` report: this crate's.
    pub struct VersionTriple {
        /// Major version.
        major: u64,
        /// Minor version.
        minor: u64,
        /// Micro version.
        micro: u64,
    }
}

impl VersionTriple {
    /// This crate's version, from Cargo.
    pub fn current() -> VersionTriple {
        let part = |text: &str| text.parse().unwrap_or(0);
        VersionTriple {
            major: part(env!("CARGO_PKG_VERSION_MAJOR")),
            minor: part(env!("CARGO_PKG_VERSION_MINOR")),
            micro: part(env!("CARGO_PKG_VERSION_PATCH")),
        }
    }
}

/// The package string reported next to the version.
pub fn package() -> String {
    format!("qom {}", env!("CARGO_PKG_VERSION"))
}

/// The greeting sent as soon as a client connects:
/// `{"QMP": {"version": {"qemu": ..., "package": ...}, "capabilities": []}}`.
/// No capability is offered (QEMU offers `oob`).
pub fn greeting() -> String {
    let version = serde_json::json!({
        "qemu": VersionTriple::current(),
        "package": package(),
    });
    let greeting = serde_json::json!({
        "QMP": { "version": version, "capabilities": [] }
    });
    to_line(&greeting)
}

/// An event: `{"event": NAME, "data": ..., "timestamp": {"seconds": S,
/// "microseconds": US}}`, stamped now (wall-clock time, as QEMU does);
/// `data` is left out when it is `None`.
pub fn event(name: &str, data: Option<Value>) -> String {
    #[derive(Serialize)]
    struct Timestamp {
        seconds: u64,
        microseconds: u32,
    }
    #[derive(Serialize)]
    struct Event<'a> {
        event: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<Value>,
        timestamp: Timestamp,
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    to_line(&Event {
        event: name,
        data,
        timestamp: Timestamp {
            seconds: now.as_secs(),
            microseconds: now.subsec_micros(),
        },
    })
}

/// `value` as one line of JSON with its newline. Serializing these
/// types cannot fail (string keys, no non-finite floats); should it, the
/// client gets a generic error rather than a broken line.
fn to_line(value: &impl Serialize) -> String {
    let mut line = serde_json::to_string(value).unwrap_or_else(|e| {
        format!(
            "{{\"error\": {{\"class\": \"GenericError\", \"desc\": {}}}}}",
            Value::String(format!("cannot serialize the answer: {e}"))
        )
    });
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(line: &str) -> String {
        parse_request(line.as_bytes()).unwrap_err().error.desc
    }

    #[test]
    fn requests_are_checked_as_qemu_checks_them() {
        assert!(desc("{").starts_with("JSON parse error, "));
        assert_eq!(desc("3"), "QMP input must be a JSON object");
        assert_eq!(desc("{}"), "QMP input lacks member 'execute'");
        assert_eq!(
            desc(r#"{"execute": 1}"#),
            "QMP input member 'execute' must be a string"
        );
        assert_eq!(
            desc(r#"{"execute": "x", "arguments": []}"#),
            "QMP input member 'arguments' must be an object"
        );
        assert_eq!(
            desc(r#"{"execute": "x", "extra": 1}"#),
            "QMP input member 'extra' is unexpected"
        );
    }

    #[test]
    fn the_id_of_a_bad_request_is_kept_and_any_json_value_may_be_one() {
        let bad = parse_request(br#"{"id": {"n": [1]}, "arguments": 1}"#).unwrap_err();
        assert_eq!(bad.id, Some(serde_json::json!({"n": [1]})));
        let ok = parse_request(br#"{"execute": "stop", "id": "a"}"#).unwrap();
        assert_eq!((ok.arguments.len(), ok.id), (0, Some("a".into())));
    }

    #[test]
    fn answers_and_events_are_single_lines_in_qemus_shape() {
        assert_eq!(
            success(serde_json::json!({}), Some(1.into())),
            "{\"return\":{},\"id\":1}\n"
        );
        assert_eq!(
            failure(QmpError::new(ErrorClass::DeviceNotFound, "no"), None),
            "{\"error\":{\"class\":\"DeviceNotFound\",\"desc\":\"no\"}}\n"
        );
        let event: Value = serde_json::from_str(&event("STOP", None)).unwrap();
        assert_eq!(event["event"], "STOP");
        assert!(event["timestamp"]["seconds"].as_u64().unwrap() > 1_600_000_000);
        assert!(event.get("data").is_none());
        let greeting: Value = serde_json::from_str(&greeting()).unwrap();
        assert_eq!(greeting["QMP"]["capabilities"], serde_json::json!([]));
        assert_eq!(greeting["QMP"]["version"]["package"], package());
    }
}

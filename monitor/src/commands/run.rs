//! The guest's run state, as HMP controls it: `stop`, `cont`,
//! `system_reset`, `info status`, `info registers`; and `wait`, which
//! waits for a pattern in a console's output so that scripts never sleep.

use super::{fail, Failure};
use crate::monitor::{CommandError, Monitor};
use crate::qmp::events::{NoData, Reset};
use qom_vmm::{RunState, Vm};
use std::time::{Duration, Instant};

/// How long `wait` waits when no timeout is given.
pub(crate) const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The guest, or the error every run-state command gives without one.
pub(crate) fn guest(monitor: &Monitor) -> Result<&Vm, CommandError> {
    monitor.guest().ok_or_else(|| {
        let machine = monitor.machine().name();
        CommandError(format!(
            "no guest runs on machine `{machine}`: start qom with -accel kvm (on -M pc)"
        ))
    })
}

fn no_args(args: &[&str]) -> Result<(), Failure> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(Failure::Usage)
    }
}

/// `stop`: the vCPUs leave the guest and wait. `STOP` goes to the QMP
/// clients when the guest was running.
pub(crate) fn stop_guest(monitor: &Monitor) -> Result<(), CommandError> {
    let vm = guest(monitor)?;
    let was_running = vm.status() == RunState::Running;
    vm.pause().map_err(|e| CommandError(e.to_string()))?;
    if was_running {
        monitor.events().emit("STOP", None::<&NoData>);
    }
    Ok(())
}

/// `cont`: the guest runs (again). After a shutdown it needs
/// `system_reset` first, as in QEMU. `RESUME` goes to the QMP clients
/// when it was not running.
pub(crate) fn cont_guest(monitor: &Monitor) -> Result<(), CommandError> {
    let vm = guest(monitor)?;
    match vm.status() {
        RunState::Running => Ok(()),
        RunState::Prelaunch | RunState::Paused | RunState::PostMigrate => {
            vm.resume();
            monitor.events().emit("RESUME", None::<&NoData>);
            Ok(())
        }
        stopped => Err(CommandError(format!(
            "the guest cannot continue ({stopped}); `system_reset` first"
        ))),
    }
}

/// `system_reset`: devices, interrupt controllers and vCPUs back to their
/// power-on state; `RESET` goes to the QMP clients.
pub(crate) fn reset_guest(monitor: &Monitor) -> Result<(), CommandError> {
    guest(monitor)?
        .reset()
        .map_err(|e| CommandError(e.to_string()))?;
    let reset = Reset {
        guest: false,
        reason: "host-qmp-system-reset".into(),
    };
    monitor.events().emit("RESET", Some(&reset));
    Ok(())
}

/// `stop`.
pub(super) fn stop(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    no_args(args)?;
    stop_guest(monitor)?;
    Ok(String::new())
}

/// `cont`.
pub(super) fn cont(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    no_args(args)?;
    cont_guest(monitor)?;
    Ok(String::new())
}

/// `system_reset`.
pub(super) fn system_reset(
    monitor: &mut Monitor,
    args: &[&str],
    _: &str,
) -> Result<String, Failure> {
    no_args(args)?;
    reset_guest(monitor)?;
    Ok(String::new())
}

/// `info status`.
pub(super) fn status(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    no_args(args)?;
    Ok(match monitor.guest() {
        Some(vm) => format!("{}\n", vm.status()),
        None => "VM status: no guest (the monitor drives the devices; -accel kvm runs a guest on -M pc)\n".into(),
    })
}

/// `info registers`: vCPU 0's state, after the header QEMU 7.2 prints
/// (`hmp_info_registers`).
pub(super) fn registers(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    no_args(args)?;
    let registers = guest(monitor)?
        .registers()
        .map_err(|e| Failure::Error(crate::CommandError(e.to_string())))?;
    Ok(format!("\nCPU#0\n{registers}"))
}

/// What `wait` was asked: `CONSOLE PATTERN [TIMEOUT]`, the pattern in
/// double quotes when it has spaces.
struct WaitArgs<'a> {
    console: &'a str,
    pattern: &'a str,
    timeout: Duration,
}

fn parse_wait(text: &str) -> Result<WaitArgs<'_>, Failure> {
    let (console, rest) = text.split_once(char::is_whitespace).ok_or(Failure::Usage)?;
    let rest = rest.trim_start();
    let (pattern, rest) = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"').ok_or_else(|| {
            Failure::Error(crate::CommandError(format!(
                "the pattern `\"{quoted}` has no closing `\"`"
            )))
        })?,
        None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
    };
    if pattern.is_empty() {
        return Err(Failure::Usage);
    }
    let timeout = match rest.trim() {
        "" => DEFAULT_WAIT,
        text => parse_timeout(text)?,
    };
    Ok(WaitArgs {
        console,
        pattern,
        timeout,
    })
}

/// Seconds (`30`, `2.5`, `30s`) or milliseconds (`500ms`).
fn parse_timeout(text: &str) -> Result<Duration, Failure> {
    let parsed = match text.strip_suffix("ms") {
        Some(ms) => ms.parse::<u64>().ok().map(Duration::from_millis),
        None => text
            .strip_suffix('s')
            .unwrap_or(text)
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok()),
    };
    parsed.ok_or_else(|| {
        Failure::Error(crate::CommandError(format!(
            "timeout `{text}` is not a duration: seconds (30, 2.5, 30s) or milliseconds (500ms)"
        )))
    })
}

/// `wait CONSOLE PATTERN [TIMEOUT]`: returns once PATTERN appears in the
/// console's output after the end of the previous match on that console;
/// fails after TIMEOUT, or as soon as the guest stops.
pub(super) fn wait(monitor: &mut Monitor, _: &[&str], text: &str) -> Result<String, Failure> {
    let args = parse_wait(text)?;
    let names: Vec<&str> = monitor.consoles.iter().map(|c| c.name).collect();
    let Some(index) = monitor.consoles.iter().position(|c| c.name == args.console) else {
        return fail(match names.as_slice() {
            [] => format!(
                "no console `{}`: this machine has none to wait on",
                args.console
            ),
            names => format!(
                "no console `{}`; this machine has: {}",
                args.console,
                names.join(", ")
            ),
        });
    };
    let deadline = Instant::now() + args.timeout;
    let console = &monitor.consoles[index];
    let (capture, from) = (console.capture.clone(), console.cursor);
    // In slices, so that a guest that stops ends the wait at once.
    let found = loop {
        let slice = (Instant::now() + Duration::from_millis(50)).min(deadline);
        match capture.wait_from(from, args.pattern, slice) {
            Ok(end) => break Ok(end),
            Err(_) if Instant::now() >= deadline => break Err(None),
            Err(_) => {}
        }
        if let Some(vm) = monitor.guest() {
            let status = vm.status();
            if !matches!(status, RunState::Running) {
                // One last look: the guest may have printed it and stopped.
                if let Ok(end) = capture.wait_from(from, args.pattern, Instant::now()) {
                    break Ok(end);
                }
                break Err(Some(status));
            }
        }
    };
    match found {
        Ok(end) => {
            monitor.consoles[index].cursor = end;
            Ok(String::new())
        }
        Err(Some(status)) => fail(format!(
            "wait {}: the guest is not running ({status}) and `{}` has not appeared",
            args.console, args.pattern
        )),
        Err(None) => {
            let status = monitor
                .guest()
                .map_or_else(|| "no guest runs".to_string(), |vm| vm.status().to_string());
            fail(format!(
                "wait {}: `{}` did not appear within {:?} ({status})",
                args.console, args.pattern, args.timeout
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(String, String, Duration)> {
        parse_wait(text)
            .ok()
            .map(|a| (a.console.into(), a.pattern.into(), a.timeout))
    }

    #[test]
    fn wait_takes_a_word_or_a_quoted_pattern_and_a_timeout() {
        let secs = Duration::from_secs;
        assert_eq!(
            parsed("debugcon \"No bootable device.\" 60"),
            Some(("debugcon".into(), "No bootable device.".into(), secs(60)))
        );
        assert_eq!(
            parsed("serial login:"),
            Some(("serial".into(), "login:".into(), DEFAULT_WAIT))
        );
        assert_eq!(
            parsed("serial ok 250ms"),
            Some(("serial".into(), "ok".into(), Duration::from_millis(250)))
        );
        assert_eq!(
            parsed("serial ok 1.5s"),
            Some(("serial".into(), "ok".into(), Duration::from_millis(1500)))
        );
        assert!(parsed("serial").is_none());
        assert!(parsed("serial \"unclosed").is_none());
        assert!(parsed("serial ok soon").is_none());
    }
}

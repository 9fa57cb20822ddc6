//! [`Monitor`]: a session on a machine that runs one command line at a
//! time through the command table.

use crate::commands::{self, Action, Command, Failure};
use crate::qmp::events::Events;
use qom_devices::chardev::Capture;
use qom_devices::memory::HeldAccess;
use qom_devices::Machine;
use qom_vmm::Vm;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A failed command: the one line printed on stderr (after `Error: `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

/// What a command asks of the session after printing its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// `quit`.
    Quit,
}

/// A monitor session on a machine. Every command either succeeds and
/// returns its output, or fails with one error line and changes nothing.
///
/// ```
/// use qom_devices::Machine;
/// use qom_monitor::{Flow, Monitor};
///
/// let mut monitor = Monitor::new(Machine::create_at("virt", "/doc-monitor")?);
/// let (out, flow) = monitor.execute("qom-get /doc-monitor/soc/uarts[0] type").unwrap();
/// assert_eq!((out.as_str(), flow), ("\"pl011\"\n", Flow::Continue));
/// assert!(monitor.execute("qom-get /doc-monitor/nowhere type").is_err());
/// # Ok::<(), qom_devices::Error>(())
/// ```
pub struct Monitor {
    /// The guest running on the machine, with `-accel kvm`. First, so it
    /// stops before anything else of the session goes.
    pub(crate) guest: Option<Arc<Vm>>,
    /// Shared with the prompt's completion, which reads the live machine,
    /// and with the guest's vCPU threads.
    machine: Arc<Machine>,
    /// The consoles `wait` reads, each with where its last match ended.
    pub(crate) consoles: Vec<Console>,
    /// Accesses `mmio hold` keeps in flight, oldest first.
    pub(crate) held: Vec<HeldAccess>,
    /// Set by `quit`; `execute` reports it as [`Flow::Quit`].
    pub(crate) quit: bool,
    /// Where events for QMP clients go (`DEVICE_DELETED`, `STOP`, ...),
    /// whichever monitor ran the command that raised them.
    events: Events,
    /// Cleared when the monitor goes, to end the guest watcher.
    watching: Arc<AtomicBool>,
    /// The last migration (`info migrate`, `query-migrate`).
    pub(crate) migration: crate::commands::migration::MigrationInfo,
    /// A live migration of the guest running in the background.
    pub(crate) live: Option<crate::commands::migration_kvm::Live>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // Release: the watcher's Acquire load sees it and ends.
        self.watching.store(false, Ordering::Release);
    }
}

/// A device's output that `wait` can search: `serial` or `debugcon`.
pub(crate) struct Console {
    pub(crate) name: &'static str,
    pub(crate) capture: Capture,
    /// The position after the last match: the next `wait` searches from
    /// here, so a script waits for each line once, in order.
    pub(crate) cursor: u64,
}

impl Monitor {
    /// A monitor on `machine`.
    pub fn new(machine: Machine) -> Self {
        Monitor {
            guest: None,
            machine: Arc::new(machine),
            consoles: Vec::new(),
            held: Vec::new(),
            quit: false,
            events: Events::new(),
            watching: Arc::new(AtomicBool::new(true)),
            migration: Default::default(),
            live: None,
        }
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The machine, for what lives beside the monitor: the prompt's
    /// completion, the guest's vCPU threads ([`Vm::new`] takes it).
    pub fn shared_machine(&self) -> Arc<Machine> {
        Arc::clone(&self.machine)
    }

    /// Runs `vm`, a guest on this monitor's machine: `stop`, `cont`,
    /// `system_reset`, `info status` and `info registers` act on it. A
    /// watcher thread tells QMP clients when the guest itself stops the
    /// machine (`SHUTDOWN`, then `STOP`).
    pub fn attach_guest(&mut self, vm: Vm) {
        crate::qmp::events::watch_guest(
            vm.watch(),
            self.events.clone(),
            Arc::clone(&self.watching),
        );
        self.guest = Some(Arc::new(vm));
    }

    /// The events this monitor's commands raise, for QMP clients to
    /// subscribe to.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The guest, if one runs.
    pub fn guest(&self) -> Option<&Vm> {
        self.guest.as_deref()
    }

    /// Lets `wait NAME ...` search the output kept in `capture` (the
    /// monitor names them `serial` and `debugcon`).
    pub fn add_console(&mut self, name: &'static str, capture: Capture) {
        self.consoles.push(Console {
            name,
            capture,
            cursor: 0,
        });
    }

    /// Runs one command line: its output (possibly empty) and whether to
    /// go on, or one error line. Empty lines and `#` comments do nothing.
    pub fn execute(&mut self, line: &str) -> Result<(String, Flow), CommandError> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok((String::new(), Flow::Continue));
        }
        let (name, rest) = split_word(line);
        let Some(command) = commands::find(commands::COMMANDS, name) else {
            return Err(CommandError(commands::unknown_command(name)));
        };
        let output = self.dispatch(command, command.name, rest)?;
        let flow = if std::mem::take(&mut self.quit) {
            Flow::Quit
        } else {
            Flow::Continue
        };
        Ok((output, flow))
    }

    /// Runs `command` on the text after its name; `invoked` is what was
    /// typed so far (`info`, `info types`), for usage messages.
    fn dispatch(
        &mut self,
        command: &'static Command,
        invoked: &str,
        rest: &str,
    ) -> Result<String, CommandError> {
        match &command.action {
            Action::Run { handler, .. } => {
                let args: Vec<&str> = rest.split_whitespace().collect();
                handler(self, &args, rest).map_err(|failure| match failure {
                    Failure::Usage => CommandError(format!("usage: {}", command.usage_in(invoked))),
                    Failure::Error(e) => e,
                })
            }
            Action::Subcommands(subcommands) => {
                let (name, rest) = split_word(rest);
                if name.is_empty() {
                    return Err(CommandError(format!(
                        "usage: {}",
                        command.usage_in(invoked)
                    )));
                }
                match commands::find(subcommands, name) {
                    Some(sub) => self.dispatch(sub, &format!("{invoked} {}", sub.name), rest),
                    None => Err(CommandError(format!(
                        "unknown {invoked} subcommand `{name}`; one of: {}",
                        commands::names(subcommands).join(", ")
                    ))),
                }
            }
        }
    }
}

/// What runs HMP command lines for a script or the prompt: a
/// [`Monitor`] of its own, or a [`SharedMonitor`] that QMP clients use
/// too.
pub trait RunLine {
    /// Runs one command line, as [`Monitor::execute`].
    fn run_line(&mut self, line: &str) -> Result<(String, Flow), CommandError>;
    /// The machine, for the prompt's completion.
    fn shared_machine(&self) -> Arc<Machine>;
}

impl RunLine for Monitor {
    fn run_line(&mut self, line: &str) -> Result<(String, Flow), CommandError> {
        self.execute(line)
    }

    fn shared_machine(&self) -> Arc<Machine> {
        Monitor::shared_machine(self)
    }
}

/// A monitor shared between the HMP session and QMP clients: each
/// command line locks it for the time it runs, so commands from either
/// side run one at a time, whole.
#[derive(Clone)]
pub struct SharedMonitor {
    monitor: Arc<Mutex<Monitor>>,
    quit: bool,
}

impl SharedMonitor {
    /// Shares `monitor`.
    pub fn new(monitor: Monitor) -> SharedMonitor {
        SharedMonitor {
            monitor: Arc::new(Mutex::new(monitor)),
            quit: false,
        }
    }

    /// The monitor, for the QMP server.
    pub fn monitor(&self) -> &Arc<Mutex<Monitor>> {
        &self.monitor
    }

    /// Whether an HMP `quit` ran through this handle.
    pub fn quit_seen(&self) -> bool {
        self.quit
    }
}

impl RunLine for SharedMonitor {
    fn run_line(&mut self, line: &str) -> Result<(String, Flow), CommandError> {
        // A command that panicked under the lock left the monitor as the
        // command left it; the session goes on, as with QMP.
        let result = self
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .execute(line);
        if matches!(result, Ok((_, Flow::Quit))) {
            self.quit = true;
        }
        result
    }

    fn shared_machine(&self) -> Arc<Machine> {
        self.monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .shared_machine()
    }
}

/// The first word of `text` and the (trimmed) rest.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    (word, rest.trim())
}

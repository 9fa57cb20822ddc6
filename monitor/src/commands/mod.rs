//! The command table: the one place that says which commands exist, their
//! aliases, arguments, help and handler. Dispatch, `help`, `help CMD`,
//! `info` subcommands and completion all read it.

mod graph;
mod guest;
pub(crate) mod hotplug;
pub(crate) mod info;
pub(crate) mod migration;
pub(crate) mod migration_kvm;
pub(crate) mod qom;
pub(crate) mod run;

use crate::monitor::{CommandError, Monitor};
use std::fmt::Write;

/// A command's handler: the monitor, the arguments split at whitespace,
/// and the same text unsplit (for `device_add`'s options).
pub(crate) type Handler = fn(&mut Monitor, &[&str], &str) -> Result<String, Failure>;

/// Why a handler failed.
pub(crate) enum Failure {
    /// The arguments do not fit the command's synopsis: the dispatcher
    /// answers with the usage line from the table.
    Usage,
    /// Anything else, as one line.
    Error(CommandError),
}

impl From<CommandError> for Failure {
    fn from(e: CommandError) -> Self {
        Failure::Error(e)
    }
}

impl From<qom_rt::Error> for Failure {
    fn from(e: qom_rt::Error) -> Self {
        Failure::Error(CommandError(e.to_string()))
    }
}

impl From<qom_devices::Error> for Failure {
    fn from(e: qom_devices::Error) -> Self {
        Failure::Error(CommandError(e.to_string()))
    }
}

/// A failed handler with `message`.
pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Error(CommandError(message.into())))
}

/// What an argument is, so that completion can offer its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// An object path.
    Path,
    /// A property of the object at the path given as argument `index`.
    PropertyOf(usize),
    /// The id of a device under `/machine/peripheral`.
    DeviceId,
    /// `TYPE,id=ID,prop=value,...` for a type the machine can hot-plug.
    DeviceOptions,
    /// Any registered type name.
    TypeName,
    /// A command name, or a subcommand of the command named before it.
    CommandName,
    /// A console `wait` can search: `serial` or `debugcon`.
    Console,
    /// A migration URI (`file:PATH`).
    MigrationUri,
    /// Anything else: nothing to offer.
    Free,
}

/// What running a command does.
pub(crate) enum Action {
    /// Calls `handler`; `args` says what each argument is.
    Run {
        /// The handler.
        handler: Handler,
        /// The arguments, for completion.
        args: &'static [Arg],
    },
    /// Dispatches on the first argument to one of these.
    Subcommands(&'static [Command]),
}

/// One monitor command, or one subcommand.
pub struct Command {
    /// The name typed.
    pub name: &'static str,
    /// Other names for it (`?` for `help`).
    pub aliases: &'static [&'static str],
    /// Its arguments as `help` shows them (for a command with
    /// subcommands, theirs are shown instead).
    pub synopsis: &'static str,
    /// One line of help.
    pub help: &'static str,
    pub(crate) action: Action,
}

impl Command {
    /// The subcommands, if it dispatches to some.
    pub fn subcommands(&self) -> &'static [Command] {
        match self.action {
            Action::Subcommands(subcommands) => subcommands,
            Action::Run { .. } => &[],
        }
    }

    /// What argument `index` is (after the name), for completion.
    pub fn arg(&self, index: usize) -> Arg {
        match self.action {
            Action::Run { args, .. } => args.get(index).copied().unwrap_or(Arg::Free),
            Action::Subcommands(_) => Arg::Free,
        }
    }

    /// `name ARGS`, or `name sub ARGS | sub ARGS | ...` for a command with
    /// subcommands.
    pub fn usage(&self) -> String {
        self.usage_in(self.name)
    }

    /// [`usage`](Self::usage) with `invoked` for the name: what was typed
    /// to reach this command (`info types` for `info types [FILTER]`).
    pub(crate) fn usage_in(&self, invoked: &str) -> String {
        let synopsis = match self.subcommands() {
            [] => self.synopsis.to_string(),
            subcommands => subcommands
                .iter()
                .map(|s| format!("{} {}", s.name, s.synopsis).trim_end().to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        };
        format!("{invoked} {synopsis}").trim_end().to_string()
    }

    /// The line `help` prints for it, reached by typing `invoked`.
    fn help_line(&self, invoked: &str) -> String {
        let aliases = match self.aliases {
            [] => String::new(),
            aliases => format!(" (also {})", aliases.join(", ")),
        };
        format!("{} -- {}{aliases}\n", self.usage_in(invoked), self.help)
    }
}

/// Every command, in the order `help` lists them.
pub static COMMANDS: &[Command] = &[
    Command {
        name: "help",
        aliases: &["?"],
        synopsis: "[CMD [SUBCMD]]",
        help: "list commands, or show one command's help and subcommands",
        action: Action::Run {
            handler: help,
            args: &[Arg::CommandName, Arg::CommandName],
        },
    },
    Command {
        name: "info",
        aliases: &[],
        synopsis: "",
        help: "show machine state",
        action: Action::Subcommands(info::SUBCOMMANDS),
    },
    Command {
        name: "device_add",
        aliases: &[],
        synopsis: "TYPE,id=ID,prop=value,... | TYPE,help",
        help: "create, realize and plug a device (`,,` is a literal comma); TYPE,help lists its properties",
        action: Action::Run {
            handler: hotplug::device_add,
            args: &[Arg::DeviceOptions],
        },
    },
    Command {
        name: "device_del",
        aliases: &[],
        synopsis: "ID",
        help: "unplug, unrealize and remove a device (it finalizes at its last reference)",
        action: Action::Run {
            handler: hotplug::device_del,
            args: &[Arg::DeviceId],
        },
    },
    Command {
        name: "qom-list",
        aliases: &[],
        synopsis: "PATH",
        help: "list an object's children, links and properties",
        action: Action::Run {
            handler: qom::list,
            args: &[Arg::Path],
        },
    },
    Command {
        name: "qom-get",
        aliases: &[],
        synopsis: "PATH PROP",
        help: "print a property's value",
        action: Action::Run {
            handler: qom::get,
            args: &[Arg::Path, Arg::PropertyOf(0)],
        },
    },
    Command {
        name: "qom-set",
        aliases: &[],
        synopsis: "PATH PROP VALUE",
        help: "set a property from a string",
        action: Action::Run {
            handler: qom::set,
            args: &[Arg::Path, Arg::PropertyOf(0)],
        },
    },
    Command {
        name: "mmio",
        aliases: &[],
        synopsis: "",
        help: "guest accesses through system memory; hold keeps one in flight",
        action: Action::Subcommands(guest::MMIO_SUBCOMMANDS),
    },
    Command {
        name: "xp",
        aliases: &[],
        synopsis: "/FMT ADDR | ADDR [SIZE]",
        help: "read guest memory: QEMU's /[COUNT][x|d|u|o|c][b|h|w|g], or one read (default size 4)",
        action: Action::Run {
            handler: guest::xp,
            args: &[],
        },
    },
    Command {
        name: "sendkey",
        aliases: &[],
        synopsis: "KEYS [HOLD_MS]",
        help: "press and release a key combination (e.g. ctrl-alt-f1) on the USB keyboards",
        action: Action::Run {
            handler: guest::sendkey,
            args: &[],
        },
    },
    Command {
        name: "clock_step",
        aliases: &[],
        synopsis: "NS",
        help: "advance the virtual clock",
        action: Action::Run {
            handler: guest::clock_step,
            args: &[],
        },
    },
    Command {
        name: "stop",
        aliases: &["s"],
        synopsis: "",
        help: "stop the guest's vCPUs",
        action: Action::Run {
            handler: run::stop,
            args: &[],
        },
    },
    Command {
        name: "cont",
        aliases: &["c"],
        synopsis: "",
        help: "start or resume the guest",
        action: Action::Run {
            handler: run::cont,
            args: &[],
        },
    },
    Command {
        name: "system_reset",
        aliases: &[],
        synopsis: "",
        help: "reset the machine: its devices, interrupt controllers and vCPUs",
        action: Action::Run {
            handler: run::system_reset,
            args: &[],
        },
    },
    Command {
        name: "wait",
        aliases: &[],
        synopsis: "serial|debugcon PATTERN [TIMEOUT]",
        help: "wait until PATTERN (in \"...\" if it has spaces) appears in the console's output after the previous match; TIMEOUT in s or ms, default 30 s",
        action: Action::Run {
            handler: run::wait,
            args: &[Arg::Console],
        },
    },
    Command {
        name: "graph",
        aliases: &[],
        synopsis: "[PATH] [--dot FILE | --svg FILE]",
        help: "the object graph as DOT (printed or to a file) or SVG",
        action: Action::Run {
            handler: graph::graph,
            args: &[Arg::Path],
        },
    },
    Command {
        name: "migrate",
        aliases: &[],
        synopsis: "[-d] \"file:PATH\"|tcp:HOST:PORT|unix:PATH",
        help: "save the machine's state (with -accel kvm: the running guest's RAM, vCPU and devices) to a file (a snapshot; load it with migrate_incoming or -incoming), or send it to a qom started with -incoming tcp:/unix: (a guest migrates live; -d: in the background, see info migrate)",
        action: Action::Run {
            handler: migration::migrate,
            args: &[Arg::MigrationUri],
        },
    },
    Command {
        name: "migrate_incoming",
        aliases: &[],
        synopsis: "file:PATH",
        help: "load a snapshot into the machine, all or nothing (a stream that does not fit changes nothing)",
        action: Action::Run {
            handler: migration::migrate_incoming,
            args: &[Arg::MigrationUri],
        },
    },
    Command {
        name: "migrate_cancel",
        aliases: &[],
        synopsis: "",
        help: "cancel a guest's live migration in flight (migrate -d); the guest runs on here. With none in flight, nothing happens",
        action: Action::Run {
            handler: migration::migrate_cancel,
            args: &[],
        },
    },
    Command {
        name: "quit",
        aliases: &["q"],
        synopsis: "",
        help: "leave the monitor",
        action: Action::Run {
            handler: quit,
            args: &[],
        },
    },
];

/// The command (or subcommand) of `table` named `name` or one of its
/// aliases.
pub fn find(table: &'static [Command], name: &str) -> Option<&'static Command> {
    table
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// The names in `table`, in order.
pub fn names(table: &'static [Command]) -> Vec<&'static str> {
    table.iter().map(|c| c.name).collect()
}

/// The error for a command that does not exist, with up to three close
/// names.
pub(crate) fn unknown_command(name: &str) -> String {
    let mut scored: Vec<(usize, &str)> = COMMANDS
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c.name), c.name))
        .filter(|(d, c)| *d <= 2.max(name.len() / 3) || c.starts_with(name))
        .collect();
    scored.sort();
    let close: Vec<&str> = scored.iter().take(3).map(|(_, c)| *c).collect();
    if close.is_empty() {
        format!("unknown command `{name}`; type `help` for the list")
    } else {
        format!(
            "unknown command `{name}`; did you mean `{}`?",
            close.join("`, `")
        )
    }
}

/// `help [CMD [SUBCMD]]`.
fn help(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    match args {
        [] => Ok(COMMANDS.iter().map(|c| c.help_line(c.name)).collect()),
        [name, sub @ ..] => {
            let Some(command) = find(COMMANDS, name) else {
                return fail(format!("no command `{name}`; type `help` for the list"));
            };
            match sub {
                [] => {
                    let mut out = command.help_line(command.name);
                    for sub in command.subcommands() {
                        let invoked = format!("{} {}", command.name, sub.name);
                        let _ = write!(out, "  {}", sub.help_line(&invoked));
                    }
                    Ok(out)
                }
                [sub] => match (find(command.subcommands(), sub), command.subcommands()) {
                    (Some(s), _) => Ok(s.help_line(&format!("{} {}", command.name, s.name))),
                    (None, []) => fail(format!("`{}` has no subcommands", command.name)),
                    (None, subcommands) => fail(format!(
                        "no subcommand `{} {sub}`; one of: {}",
                        command.name,
                        names(subcommands).join(", ")
                    )),
                },
                _ => Err(Failure::Usage),
            }
        }
    }
}

/// `quit`: stop reading commands.
fn quit(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage);
    }
    request_quit(monitor);
    Ok(String::new())
}

/// HMP's and QMP's `quit`: the session ends after this command, and the
/// QMP clients get `SHUTDOWN` (QEMU's cause `host-qmp-quit`, which HMP's
/// `quit` gives too).
pub(crate) fn request_quit(monitor: &mut Monitor) {
    monitor.quit = true;
    let shutdown = crate::qmp::events::Shutdown {
        guest: false,
        reason: "host-qmp-quit".into(),
    };
    monitor.events().emit("SHUTDOWN", Some(&shutdown));
}

/// Decimal or `0x` hexadecimal, `_` separators allowed.
pub(crate) fn parse_u64(text: &str) -> Result<u64, Failure> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => text.replace('_', "").parse(),
    };
    parsed.or_else(|_| fail(format!("`{text}` is not a number (decimal or 0x hex)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> impl Iterator<Item = &'static Command> {
        COMMANDS
            .iter()
            .chain(COMMANDS.iter().flat_map(|c| c.subcommands()))
    }

    #[test]
    fn names_and_aliases_are_unique_within_each_table() {
        for table in std::iter::once(COMMANDS).chain(COMMANDS.iter().map(|c| c.subcommands())) {
            let mut seen = Vec::new();
            for c in table {
                for name in std::iter::once(&c.name).chain(c.aliases) {
                    assert!(!seen.contains(name), "`{name}` twice");
                    seen.push(name);
                }
            }
        }
    }

    #[test]
    fn every_command_has_help_and_a_usage_naming_it() {
        for c in all() {
            assert!(!c.help.is_empty(), "{} has help", c.name);
            assert!(c.usage().starts_with(c.name), "{}", c.usage());
        }
        let info = find(COMMANDS, "info").unwrap();
        assert_eq!(
            info.usage(),
            "info qom-tree [PATH] | types [FILTER] | mtree | qtree | pci | migrate | usb | status | registers | lifetime"
        );
    }

    #[test]
    fn property_arguments_point_at_a_path_argument() {
        for c in all() {
            for i in 0..4 {
                if let Arg::PropertyOf(path) = c.arg(i) {
                    assert_eq!(c.arg(path), Arg::Path, "{} argument {i}", c.name);
                }
            }
        }
    }

    #[test]
    fn unknown_commands_get_close_names() {
        assert_eq!(
            unknown_command("devcie_add"),
            "unknown command `devcie_add`; did you mean `device_add`?"
        );
        assert_eq!(
            unknown_command("zzzzzzzz"),
            "unknown command `zzzzzzzz`; type `help` for the list"
        );
    }

    #[test]
    fn a_monitor_with_its_guest_can_move_between_threads() {
        // The fuzz target keeps one in a static Mutex.
        fn check<T: Send>() {}
        check::<crate::Monitor>();
    }

    #[test]
    fn numbers_are_decimal_or_hex_with_separators() {
        assert!(matches!(parse_u64("0x1_000"), Ok(4096)));
        assert!(matches!(parse_u64("1_000"), Ok(1000)));
        assert!(matches!(parse_u64("0xg"), Err(Failure::Error(_))));
    }
}

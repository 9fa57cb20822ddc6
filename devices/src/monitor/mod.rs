//! The `qom` monitor: HMP-flavoured commands on a live machine. Every
//! command either succeeds and prints its output, or fails with one error
//! line and changes nothing.

mod commands;
mod info;
mod session;

pub use commands::{Command, COMMANDS, INFO};
pub use session::{run_commands, run_interactive, run_script};

use crate::error::Error;
use crate::machine::Machine;
use crate::memory::HeldAccess;
use qom_rt::prelude::*;

/// A failed command: one line for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        CommandError(e.to_string())
    }
}

impl From<qom_rt::Error> for CommandError {
    fn from(e: qom_rt::Error) -> Self {
        CommandError(e.to_string())
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, CommandError> {
    Err(CommandError(message.into()))
}

/// What a command asks of the session after printing its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// `quit`.
    Quit,
}

/// A monitor session on a machine.
pub struct Monitor {
    machine: Machine,
    held: Vec<HeldAccess>,
}

impl Monitor {
    /// A monitor on `machine`.
    pub fn new(machine: Machine) -> Self {
        Monitor {
            machine,
            held: Vec::new(),
        }
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Runs one command line; output (possibly empty) or one error line.
    pub fn execute(&mut self, line: &str) -> Result<(String, Flow), CommandError> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok((String::new(), Flow::Continue));
        }
        let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let args: Vec<&str> = rest.split_whitespace().collect();
        let output = match name {
            "help" | "?" => help(args.first().copied())?,
            "info" => {
                let mut out = info::info(&self.machine, &args)?;
                if args == ["lifetime"] {
                    out.push_str(&self.held_report());
                }
                out
            }
            "device_add" => self.device_add(rest)?,
            "device_del" => {
                let [id] = args[..] else {
                    return fail("usage: device_del ID");
                };
                self.machine.device_del(id)?;
                String::new()
            }
            "qom-list" => {
                let [path] = args[..] else {
                    return fail("usage: qom-list PATH");
                };
                info::qom_list(path)?
            }
            "qom-get" => {
                let [path, prop] = args[..] else {
                    return fail("usage: qom-get PATH PROP");
                };
                let object = qom_rt::resolve_path(path)?;
                format!("{}\n", object.get_property(prop)?)
            }
            "qom-set" => {
                let [path, prop, value] = args[..] else {
                    return fail("usage: qom-set PATH PROP VALUE");
                };
                qom_rt::resolve_path(path)?.set_property(prop, value)?;
                String::new()
            }
            "mmio" => self.mmio(&args)?,
            "xp" => {
                let (addr, size) = match args[..] {
                    [addr] => (parse_u64(addr)?, 4),
                    [addr, size] => (parse_u64(addr)?, parse_size(size)?),
                    _ => return fail("usage: xp ADDR [SIZE]"),
                };
                format!(
                    "{addr:016x}: {:#x}\n",
                    self.machine.system().read(addr, size)
                )
            }
            "clock_step" => {
                let [ns] = args[..] else {
                    return fail("usage: clock_step NS");
                };
                let ns = parse_u64(ns)?;
                let devices = self.machine.clock_step(ns)?;
                format!("advanced {devices} clocked devices by {ns} ns\n")
            }
            "graph" => info::graph(&self.machine, &args)?,
            "quit" | "q" => return Ok((String::new(), Flow::Quit)),
            other => {
                let suggestions = commands::suggest(other);
                return fail(match suggestions.as_slice() {
                    [] => format!("unknown command `{other}`; type `help` for the list"),
                    s => format!(
                        "unknown command `{other}`; did you mean `{}`?",
                        s.join("`, `")
                    ),
                });
            }
        };
        Ok((output, Flow::Continue))
    }

    /// The accesses `mmio hold` keeps in flight and what they keep alive.
    fn held_report(&self) -> String {
        let mut out = format!(
            "accesses in flight: {}
",
            self.held.len()
        );
        for held in &self.held {
            let owner = held.owner();
            let h = owner.header();
            out.push_str(&format!(
                "  holding {} at {}: refs {} / storage {}, {:?}\n",
                owner.type_name(),
                owner
                    .canonical_path()
                    .unwrap_or_else(|| "<detached>".into()),
                h.ref_count(),
                h.storage_count(),
                h.state()
            ));
        }
        out
    }

    fn device_add(&mut self, spec: &str) -> Result<String, CommandError> {
        if spec.is_empty() {
            return fail("usage: device_add TYPE,id=ID,prop=value,...");
        }
        let (type_name, options) = crate::hotplug::parse_device_options(spec)?;
        if options.iter().any(|(k, _)| k == "help") {
            return info::device_help(&type_name);
        }
        self.machine.device_add(spec)?;
        Ok(String::new())
    }

    fn mmio(&mut self, args: &[&str]) -> Result<String, CommandError> {
        let system = self.machine.system();
        match args {
            ["read", addr, size] => {
                let value = system.read(parse_u64(addr)?, parse_size(size)?);
                Ok(format!("{value:#x}\n"))
            }
            ["write", addr, size, value] => {
                system.write(parse_u64(addr)?, parse_size(size)?, parse_u64(value)?);
                Ok(String::new())
            }
            ["hold", addr, size] => {
                let addr = parse_u64(addr)?;
                let Some(held) = system.hold(addr, parse_size(size)?) else {
                    return fail(format!("nothing answers at {addr:#x}: the access would be unassigned"));
                };
                let owner = held.owner().canonical_path().unwrap_or_else(|| held.owner().type_name().into());
                self.held.push(held);
                Ok(format!("access at {addr:#x} in flight, holding a reference on {owner}\n"))
            }
            ["release"] => match self.held.pop() {
                Some(held) => Ok(format!("access completed: {:#x}\n", held.finish_read())),
                None => fail("no access in flight"),
            },
            _ => fail("usage: mmio read ADDR SIZE | mmio write ADDR SIZE VALUE | mmio hold ADDR SIZE | mmio release"),
        }
    }
}

fn help(command: Option<&str>) -> Result<String, CommandError> {
    match command {
        None => Ok(COMMANDS
            .iter()
            .map(|c| format!("{} {} -- {}\n", c.name, c.args, c.help))
            .collect()),
        Some(name) => match commands::find(name) {
            Some(c) => Ok(format!("{} {} -- {}\n", c.name, c.args, c.help)),
            None => fail(format!("no command `{name}`; type `help` for the list")),
        },
    }
}

/// Decimal or `0x` hexadecimal.
pub(crate) fn parse_u64(text: &str) -> Result<u64, CommandError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => text.replace('_', "").parse(),
    };
    parsed.map_err(|_| CommandError(format!("`{text}` is not a number (decimal or 0x hex)")))
}

fn parse_size(text: &str) -> Result<u32, CommandError> {
    match parse_u64(text)? {
        n @ (1 | 2 | 4 | 8) => Ok(n as u32),
        _ => fail(format!("access size `{text}` must be 1, 2, 4 or 8")),
    }
}

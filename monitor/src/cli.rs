//! The `qom` command line:
//!
//! ```text
//! qom [-M NAME | -M help] [-device TYPE,id=ID,prop=value,...]... [-incoming file:PATH]
//!     [-c "cmd; cmd"] [--echo]
//! ```
//!
//! Commands come from `-c`, from standard input when it is not a
//! terminal, or from an interactive prompt. In `-c` and script mode the
//! exit status is non-zero if any command failed.

use crate::commands;
use crate::monitor::Monitor;
use crate::{prompt, script};
use clap::Parser;
use qom_devices::machine::{default_machine, machine_types};
use qom_devices::{DeviceOptions, Machine};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Command-line options.
#[derive(Parser)]
#[command(name = "qom", version, about = "A QOM monitor for a live machine")]
struct Args {
    /// The machine to build; `help` lists them. Default: the default
    /// board (`virt`).
    #[arg(long = "machine", short = 'M', value_name = "NAME")]
    machine: Option<String>,
    /// A device to add before the first command (`TYPE,id=ID,prop=value`,
    /// `,,` for a literal comma; `TYPE,help` lists its properties); may be
    /// repeated. QEMU spells it `-device`, which is accepted too.
    #[arg(long = "device", value_name = "OPTIONS")]
    devices: Vec<String>,
    /// A snapshot to load once the machine and its `-device`s are built
    /// (`file:PATH`, as `migrate` writes it), before the first command.
    /// QEMU spells it `-incoming`, which is accepted too.
    #[arg(long = "incoming", value_name = "URI")]
    incoming: Option<String>,
    /// Commands to run, separated by `;` (`\;` is a literal `;`), then exit.
    #[arg(short = 'c', value_name = "COMMANDS")]
    commands: Option<String>,
    /// Print each command (after a `(qom) ` prompt) before its output,
    /// so a script's output reads as a transcript.
    #[arg(long)]
    echo: bool,
}

/// QEMU writes long options with one dash (`-device`, `-machine`).
fn qemu_style(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| match a.as_str() {
            "-device" | "-machine" | "-incoming" => format!("-{a}"),
            _ => a,
        })
        .collect()
}

/// Runs `qom` on the process's arguments. A binary that links more device
/// or board types calls this from its `main`: every type registered in
/// the crates it links is available by name.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     qom_monitor::main()
/// }
/// ```
pub fn main() -> ExitCode {
    run(std::env::args())
}

/// Runs `qom` on `args` (the first one is the program name), with the
/// process's standard streams.
pub fn run(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args = match Args::try_parse_from(qemu_style(args)) {
        Ok(args) => args,
        // `--help`, `--version` (status 0) or a usage error (status 2).
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match start(&args) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(mut monitor)) => match run_session(&mut monitor, &args) {
            0 => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        },
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "Error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the machine and plugs the `-device`s; `None` when an option
/// only asked for help, which is printed.
fn start(args: &Args) -> Result<Option<Monitor>, String> {
    qom_rt::check_registry().map_err(|e| e.to_string())?;
    let name = match args.machine.as_deref() {
        Some("help" | "?") => {
            print!("{}", machine_help());
            return Ok(None);
        }
        Some(name) => name.to_string(),
        None => default_machine()
            .ok_or("no machine type is linked in")?
            .name
            .to_string(),
    };
    let mut plug = Vec::new();
    for spec in &args.devices {
        let options = DeviceOptions::parse(spec).map_err(|e| format!("-device {spec}: {e}"))?;
        if options.help {
            let help = commands::hotplug::device_help(&options.type_name)
                .map_err(|e| format!("-device {spec}: {e}"))?;
            print!("{help}");
            return Ok(None);
        }
        plug.push((spec, options));
    }
    let machine = Machine::create(&name).map_err(|e| e.to_string())?;
    machine.set_console(|byte| {
        let mut out = std::io::stdout();
        let _ = out.write_all(&[byte]);
        let _ = out.flush();
    });
    for (spec, options) in plug {
        machine
            .device_add_options(&options)
            .map_err(|e| format!("-device {spec}: {e}"))?;
    }
    if let Some(uri) = &args.incoming {
        commands::migration::MigrationUri::parse(uri)
            .and_then(|incoming| incoming.load(&machine))
            .map_err(|e| format!("-incoming {uri}: {e}"))?;
    }
    Ok(Some(Monitor::new(machine)))
}

/// `-M help`: every board linked in, as QEMU lists them.
fn machine_help() -> String {
    let mut out = String::from("Supported machines are:\n");
    for machine in machine_types() {
        let default = if machine.is_default { " (default)" } else { "" };
        let _ = writeln!(out, "{:<20} {}{default}", machine.name, machine.description);
    }
    out
}

/// Runs the commands from `-c`, standard input or the prompt; returns
/// how many failed.
fn run_session(monitor: &mut Monitor, args: &Args) -> usize {
    let (stdout, stderr) = (&mut std::io::stdout(), &mut std::io::stderr());
    if let Some(commands) = &args.commands {
        let commands = script::split_commands(commands);
        let commands = commands.iter().map(String::as_str);
        script::run_commands(monitor, commands, args.echo, stdout, stderr)
    } else if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin().lock();
        script::run_script(monitor, stdin, args.echo, stdout, stderr)
    } else {
        let name = monitor.machine().name();
        println!("qom monitor on machine `{name}` - type `help` for commands");
        match prompt::run_interactive(monitor) {
            Ok(()) => 0,
            Err(e) => {
                let _ = writeln!(stderr, "Error: {e}");
                1
            }
        }
    }
}

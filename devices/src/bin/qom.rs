//! `qom`: a monitor for a live machine, QEMU-style.
//!
//! ```text
//! qom [--machine virt] [-device TYPE,id=ID,prop=value,...]... [-c "cmd; cmd"]
//! ```
//!
//! Commands come from `-c`, from standard input when it is not a terminal,
//! or from an interactive prompt. In `-c` and script mode the exit status
//! is non-zero if any command failed.

use clap::Parser;
use devices::machine::Machine;
use devices::monitor::{self, Monitor};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Command-line options.
#[derive(Parser)]
#[command(name = "qom", version, about = "A QOM monitor for a live machine")]
struct Args {
    /// The machine to build.
    #[arg(long = "machine", short = 'M', default_value = "virt")]
    machine: String,
    /// A device to add before the first command (`TYPE,id=ID,prop=value`);
    /// may be repeated. QEMU spells it `-device`, which is accepted too.
    #[arg(long = "device")]
    devices: Vec<String>,
    /// Commands to run, separated by `;`, then exit.
    #[arg(short = 'c')]
    commands: Option<String>,
    /// Print each command (after a `(qom) ` prompt) before its output,
    /// so a script's output reads as a transcript.
    #[arg(long)]
    echo: bool,
}

/// QEMU writes long options with one dash (`-device`, `-machine`).
fn qemu_style(args: impl Iterator<Item = String>) -> Vec<String> {
    args.map(|a| match a.as_str() {
        "-device" | "-machine" => format!("-{a}"),
        _ => a,
    })
    .collect()
}

fn main() -> ExitCode {
    let args = Args::parse_from(qemu_style(std::env::args()));
    let stderr = &mut std::io::stderr();
    if let Err(e) = qom_rt::check_registry() {
        let _ = writeln!(stderr, "Error: {e}");
        return ExitCode::FAILURE;
    }
    let machine = match Machine::create(&args.machine) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(stderr, "Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    machine.set_console(|byte| {
        let mut out = std::io::stdout();
        let _ = out.write_all(&[byte]);
        let _ = out.flush();
    });
    let mut monitor = Monitor::new(machine);
    let stdout = &mut std::io::stdout();
    let mut failures = 0;
    for spec in &args.devices {
        if let Err(e) = monitor.machine().device_add(spec) {
            let _ = writeln!(stderr, "Error: -device {spec}: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Some(commands) = &args.commands {
        failures +=
            monitor::run_commands(&mut monitor, commands.split(';'), args.echo, stdout, stderr);
    } else if !std::io::stdin().is_terminal() {
        failures += monitor::run_script(
            &mut monitor,
            std::io::stdin().lock(),
            args.echo,
            stdout,
            stderr,
        );
    } else {
        println!(
            "qom monitor on machine `{}` - type `help` for commands",
            args.machine
        );
        if let Err(e) = monitor::run_interactive(&mut monitor) {
            let _ = writeln!(stderr, "Error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

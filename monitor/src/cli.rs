//! The `qom` command line:
//!
//! ```text
//! qom [-M NAME | -M help] [-accel kvm [-S]] [-bios FILE] [-m SIZE] [-usb]
//!     [-serial stdio|file:PATH|null] [-debugcon stdio|file:PATH|null]
//!     [-boot menu=on|off] [-drive file=PATH,if=none,id=ID[,format=raw]]...
//!     [-device TYPE,id=ID,prop=value,...]... [-incoming file:PATH]
//!     [-qmp unix:PATH,server=on,wait=off | -qmp tcp:HOST:PORT,server=on,wait=off]...
//!     [-qtest stdio|unix:PATH]
//!     [-c "cmd; cmd"] [--echo]
//! ```
//!
//! Commands come from `-c`, from standard input when it is not a
//! terminal, or from an interactive prompt. In `-c` and script mode the
//! exit status is non-zero if any command failed. With `-qmp`, QMP
//! clients drive the same machine, and the process runs until `quit`
//! (from either side) or the end of the interactive prompt: the end of a
//! script or of `-c` does not end it. With `-qtest`, a test drives the
//! machine through QEMU's qtest protocol ([`crate::qtest`]) until it
//! closes the stream, instead of monitor commands.

use crate::commands;
use crate::monitor::{Monitor, RunLine, SharedMonitor};
use crate::qmp;
use crate::qtest;
use crate::{prompt, script};
use clap::Parser;
use qom_devices::chardev::{Capture, CharBackend};
use qom_devices::machine::{default_machine, machine_types, Firmware, MachineOptions, MachineType};
use qom_devices::{DeviceOptions, Machine};
use qom_vmm::{Vm, VmOptions};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
    /// Run the machine's guest with this accelerator: `kvm` (machines
    /// with a CPU: `pc`).
    #[arg(long, value_name = "ACCEL")]
    accel: Option<String>,
    /// With `-accel`: start with the guest stopped, until `cont`.
    #[arg(short = 'S')]
    start_paused: bool,
    /// The firmware image (default: the board's, e.g. `bios-256k.bin`
    /// for `pc`, from where QEMU keeps firmware).
    #[arg(long, value_name = "FILE")]
    bios: Option<String>,
    /// Guest RAM: megabytes, or a size with a suffix (`512M`, `1G`).
    #[arg(short = 'm', value_name = "SIZE")]
    memory: Option<String>,
    /// Add the board's USB controller (the PIIX3's UHCI on `pc`).
    #[arg(long)]
    usb: bool,
    /// Where the serial port's output goes: `stdio` (default), `file:PATH`
    /// or `null`; `wait serial` searches it.
    #[arg(long, value_name = "BACKEND")]
    serial: Option<String>,
    /// Serve QMP at `unix:PATH,server=on,wait=off` or
    /// `tcp:HOST:PORT,server=on,wait=off`; may be repeated.
    #[arg(long = "qmp", value_name = "ENDPOINT")]
    qmp: Vec<String>,
    /// Serve QEMU's qtest protocol on `stdio` or `unix:PATH` (a socket
    /// the test listens on) instead of running monitor commands.
    #[arg(long = "qtest", value_name = "ENDPOINT")]
    qtest: Option<String>,
    /// Add a debug console (port 0x402 on `pc`) sending to `stdio`,
    /// `file:PATH` or `null`; `wait debugcon` searches it.
    #[arg(long, value_name = "BACKEND")]
    debugcon: Option<String>,
    /// A raw image a device takes by id (`file=PATH,if=none,id=ID`, then
    /// `-device usb-storage,drive=ID`); may be repeated.
    #[arg(long = "drive", value_name = "OPTIONS")]
    drives: Vec<String>,
    /// `menu=on`: the firmware offers its boot menu (SeaBIOS: "Press ESC
    /// for boot menu").
    #[arg(long, value_name = "OPTIONS")]
    boot: Option<String>,
}

/// Where QEMU looks for firmware (`qemu_find_file` in Debian's build, and
/// the SeaBIOS package's own directory).
const FIRMWARE_DIRS: [&str; 2] = ["/usr/share/qemu", "/usr/share/seabios"];

/// QEMU writes long options with one dash (`-device`, `-machine`, ...).
fn qemu_style(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| match a.as_str() {
            "-qmp" => "--qmp".to_string(),
            "-qtest" => "--qtest".to_string(),
            "-device" | "-machine" | "-accel" | "-bios" | "-usb" | "-serial" | "-debugcon"
            | "-incoming" | "-drive" | "-boot" => {
                format!("-{a}")
            }
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
    let endpoints = match args
        .qmp
        .iter()
        .map(|spec| qmp::Endpoint::parse(spec))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(endpoints) => endpoints,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "Error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let qtest = match args.qtest.as_deref().map(qtest::QtestEndpoint::parse) {
        Some(Ok(_)) if !endpoints.is_empty() || args.commands.is_some() => {
            let _ = writeln!(
                std::io::stderr(),
                "Error: -qtest drives the machine alone: it cannot be combined with -qmp or -c"
            );
            return ExitCode::FAILURE;
        }
        Some(Err(message)) => {
            let _ = writeln!(std::io::stderr(), "Error: {message}");
            return ExitCode::FAILURE;
        }
        Some(Ok(endpoint)) => Some(endpoint),
        None => None,
    };
    match start(&args) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(monitor)) if qtest.is_some() => {
            let Some(endpoint) = qtest else {
                return ExitCode::FAILURE;
            };
            match endpoint.serve(monitor.shared_machine()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    let _ = writeln!(std::io::stderr(), "Error: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok(Some(monitor)) if !endpoints.is_empty() => serve_qmp(monitor, endpoints, &args),
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

/// Runs the HMP session and the QMP servers on one shared monitor until
/// `quit` from either side (or the end of the interactive prompt).
fn serve_qmp(monitor: Monitor, endpoints: Vec<qmp::Endpoint>, args: &Args) -> ExitCode {
    let mut shared = SharedMonitor::new(monitor);
    // QMP's `quit` ends the process from a client thread: the main thread
    // may be blocked reading the terminal. The server has drained every
    // client's queue (their `SHUTDOWN`) before calling this.
    // Exiting skips the servers' destructors: remove the Unix socket
    // files here, as they would.
    let sockets: Vec<std::path::PathBuf> = endpoints
        .iter()
        .filter_map(|e| match e {
            qmp::Endpoint::Unix(path) => Some(path.clone()),
            qmp::Endpoint::Tcp(_) => None,
        })
        .collect();
    let on_quit: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
        for path in &sockets {
            let _ = std::fs::remove_file(path);
        }
        let _ = std::io::stdout().flush();
        std::process::exit(0)
    });
    let mut servers = Vec::new();
    for endpoint in endpoints {
        match qmp::QmpServer::start(endpoint, Arc::clone(shared.monitor()), Arc::clone(&on_quit)) {
            Ok(server) => servers.push(server),
            Err(message) => {
                let _ = writeln!(std::io::stderr(), "Error: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    let interactive = args.commands.is_none() && std::io::stdin().is_terminal();
    let failures = run_session(&mut shared, args);
    if !shared.quit_seen() && !interactive {
        // The script or `-c` ended: the machine goes on serving QMP until
        // a client's `quit` ends the process.
        loop {
            std::thread::park();
        }
    }
    for server in &servers {
        server.drain(Duration::from_secs(2));
    }
    match failures {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
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
        Some(spec) => spec.split(',').next().unwrap_or(spec).to_string(),
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
    let board = machine_types().into_iter().find(|m| m.name == name);
    let (options, consoles) = machine_options(args, board)?;
    let machine = Machine::create_with(&name, "/machine", &options).map_err(|e| e.to_string())?;
    for (spec, options) in plug {
        machine
            .device_add_options(&options)
            .map_err(|e| format!("-device {spec}: {e}"))?;
    }
    // With a guest the stream goes into its VM, below, before it runs.
    let kvm = args.accel.as_deref() == Some("kvm");
    if let Some(uri) = args.incoming.as_ref().filter(|_| !kvm) {
        commands::migration::MigrationUri::parse(uri)
            .and_then(|incoming| incoming.load(&machine))
            .map_err(|e| format!("-incoming {uri}: {e}"))?;
    }
    let mut monitor = Monitor::new(machine);
    for (console, capture) in consoles {
        monitor.add_console(console, capture);
    }
    match args.accel.as_deref() {
        Some("kvm") => {
            let options = VmOptions {
                start_paused: args.start_paused || args.incoming.is_some(),
            };
            let vm = Vm::new(monitor.shared_machine(), options).map_err(|e| e.to_string())?;
            if let Some(uri) = &args.incoming {
                commands::migration::MigrationUri::parse(uri)
                    .and_then(|incoming| commands::migration_kvm::incoming(&vm, &incoming))
                    .map_err(|e| format!("-incoming {uri}: {e}"))?;
                // As QEMU's destination: it runs once loaded, unless -S.
                if !args.start_paused {
                    vm.resume();
                }
            }
            monitor.attach_guest(vm);
        }
        // QEMU's qtest accelerator: no CPU runs, the test drives the
        // machine; qom without `-accel` is that already.
        Some("qtest") if args.qtest.is_some() => {}
        Some(other) => {
            return Err(format!(
                "accelerator `{other}` is not available: qom runs guests with -accel kvm (or -accel qtest with -qtest)"
            ))
        }
        None if args.start_paused => return Err("-S needs -accel kvm".into()),
        None => {}
    }
    Ok(Some(monitor))
}

/// The consoles `wait` can search, by name, with what they keep.
type Consoles = Vec<(&'static str, Capture)>;

/// The machine options from the command line, and the consoles `wait`
/// can search. `board` is the machine type asked for, if it exists.
fn machine_options(
    args: &Args,
    board: Option<MachineType>,
) -> Result<(MachineOptions, Consoles), String> {
    let mut consoles = Vec::new();
    let mut console = |name: &'static str, spec: &str| {
        let backend = CharBackend::parse(spec).map_err(|e| format!("-{name} {spec}: {e}"))?;
        let (backend, capture) = backend.captured();
        consoles.push((name, capture));
        Ok::<_, String>(backend)
    };
    // `-qtest stdio` owns standard output: the UART's bytes would land in
    // the protocol stream, so its default backend is then `null`.
    let default_serial = match args.qtest.as_deref() {
        Some("stdio") => "null",
        _ => "stdio",
    };
    let serial = console("serial", args.serial.as_deref().unwrap_or(default_serial))?;
    let debugcon = match &args.debugcon {
        Some(spec) => Some(console("debugcon", spec)?),
        None => None,
    };
    let ram_size = match &args.memory {
        Some(text) => Some(parse_memory(text)?),
        None => None,
    };
    let firmware = match (&args.bios, board.and_then(|b| b.default_firmware)) {
        (Some(path), _) => Some(read_firmware(path)?),
        (None, Some(file)) => FIRMWARE_DIRS
            .iter()
            .map(|dir| format!("{dir}/{file}"))
            .find(|path| std::path::Path::new(path).exists())
            .map(|path| read_firmware(&path))
            .transpose()?,
        (None, None) => None,
    };
    let drives = args
        .drives
        .iter()
        .map(|spec| qom_devices::machine::Drive::parse(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let boot_menu = match args.boot.as_deref() {
        None | Some("menu=off") => false,
        Some("menu=on") => true,
        Some(other) => {
            return Err(format!(
                "-boot {other}: only menu=on or menu=off is supported"
            ))
        }
    };
    let options = MachineOptions {
        ram_size,
        firmware,
        usb: args.usb,
        serial: Some(serial),
        debugcon,
        boot_menu,
        drives,
        properties: machine_properties(args.machine.as_deref().unwrap_or(""))?,
    };
    Ok((options, consoles))
}

/// The board properties of `-M NAME,PROP=VALUE,...` (QEMU's syntax;
/// `PROP` alone means `PROP=on`).
fn machine_properties(spec: &str) -> Result<Vec<(String, String)>, String> {
    spec.split(',')
        .skip(1)
        .map(|item| match item.split_once('=') {
            Some(("", _)) => Err(format!("-M {spec}: `{item}` names no property")),
            Some((name, value)) => Ok((name.to_string(), value.to_string())),
            None if item.is_empty() => Err(format!("-M {spec}: empty property")),
            None => Ok((item.to_string(), "on".to_string())),
        })
        .collect()
}

fn read_firmware(path: &str) -> Result<Firmware, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("-bios {path}: cannot read it: {e}"))?;
    Ok(Firmware {
        path: path.to_string(),
        bytes,
    })
}

/// `-m`: megabytes without a suffix (QEMU's `-m 128`), or a size with one.
fn parse_memory(text: &str) -> Result<u64, String> {
    let bytes = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>()
            .ok()
            .and_then(|mib| mib.checked_mul(1 << 20))
    } else {
        qom_rt::PropertyType::parse(text)
            .ok()
            .map(|s: qom_rt::Size| s.bytes())
    };
    bytes.ok_or_else(|| {
        format!("-m {text}: not a size: megabytes (128) or a number with a suffix (512M, 1G)")
    })
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
fn run_session(monitor: &mut impl RunLine, args: &Args) -> usize {
    let (stdout, stderr) = (&mut std::io::stdout(), &mut std::io::stderr());
    if let Some(commands) = &args.commands {
        let commands = script::split_commands(commands);
        let commands = commands.iter().map(String::as_str);
        script::run_commands(monitor, commands, args.echo, stdout, stderr)
    } else if !std::io::stdin().is_terminal() {
        let stdin = std::io::stdin().lock();
        script::run_script(monitor, stdin, args.echo, stdout, stderr)
    } else {
        let name = monitor.shared_machine().name();
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

//! # qom_monitor — the `qom` monitor
//!
//! HMP-flavoured commands on a live machine built from the device library
//! (`qom_devices`): the composition tree, properties, the memory map, the
//! PCI bus, object lifetimes, guest accesses, virtual time and the object
//! graph; and, with `-accel kvm` on a board with a CPU (`pc`), a running
//! guest (`qom_vmm`): `stop`, `cont`, `system_reset`, `info status`,
//! `info registers`, and `wait` for a pattern on a console. Every command
//! either succeeds and prints its output, or fails with one error line
//! and changes nothing.
//!
//! The `qom` binary is [`main`]; a crate that defines its own device or
//! board types runs the same monitor with them linked in by calling it
//! from its own `main` (types register themselves through `inventory`).
//! In process, [`Monitor`] runs one command line at a time.
//!
//! With `-qmp unix:PATH,server=on,wait=off` (or `tcp:HOST:PORT,...`),
//! QMP clients — QEMU's `qemu.qmp`, `qmp-shell`, management software —
//! drive the same machine ([`qmp`]); each QMP command calls the operation
//! its HMP command calls.
//!
//! With `-qtest stdio` or `-qtest unix:PATH`, a test drives the machine
//! through QEMU's qtest protocol ([`qtest`]), so that one script runs
//! against QEMU and `qom` and their answers can be compared.
//!
//! One table, [`COMMANDS`], is the source of truth for dispatch, `help`,
//! `info` subcommands and completion ([`complete`]).

mod cli;
mod commands;
mod completion;
mod monitor;
mod prompt;
pub mod qmp;
pub mod qtest;
mod script;

pub use cli::{main, run};
pub use commands::{find, names, Arg, Command, COMMANDS};
pub use completion::complete;
pub use monitor::{CommandError, Flow, Monitor, RunLine, SharedMonitor};
pub use prompt::run_interactive;
pub use script::{run_commands, run_script, split_commands};

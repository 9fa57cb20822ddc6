//! `info ...`: the read-only views of the machine.

use super::{Action, Arg, Command, Failure};
use crate::monitor::Monitor;
use qom_devices::DeviceClass;
use qom_rt::prelude::*;
use std::fmt::Write;

/// The `info` subcommands, in the order `help info` lists them.
pub(super) static SUBCOMMANDS: &[Command] = &[
    Command {
        name: "qom-tree",
        aliases: &[],
        synopsis: "[PATH]",
        help: "the composition tree under PATH (default: the machine), one object a line",
        action: Action::Run {
            handler: qom_tree,
            args: &[Arg::Path],
        },
    },
    Command {
        name: "types",
        aliases: &[],
        synopsis: "[FILTER]",
        help: "registered types whose name contains FILTER, with parent, flags and description",
        action: Action::Run {
            handler: types,
            args: &[Arg::TypeName],
        },
    },
    Command {
        name: "mtree",
        aliases: &[],
        synopsis: "",
        help: "the memory regions of every address space",
        action: Action::Run {
            handler: mtree,
            args: &[],
        },
    },
    Command {
        name: "qtree",
        aliases: &[],
        synopsis: "",
        help: "the device tree by bus, as QEMU's qdev prints it",
        action: Action::Run {
            handler: qtree,
            args: &[],
        },
    },
    Command {
        name: "pci",
        aliases: &[],
        synopsis: "",
        help: "the devices on the PCI bus with their IDs and BARs",
        action: Action::Run {
            handler: pci,
            args: &[],
        },
    },
    Command {
        name: "migrate",
        aliases: &[],
        synopsis: "",
        help: "the last migration: status, total time, device state sent",
        action: Action::Run {
            handler: super::migration::info_migrate,
            args: &[],
        },
    },
    Command {
        name: "usb",
        aliases: &[],
        synopsis: "",
        help: "the devices on the USB buses, as HMP",
        action: Action::Run {
            handler: usb,
            args: &[],
        },
    },
    Command {
        name: "status",
        aliases: &[],
        synopsis: "",
        help: "the guest's run state",
        action: Action::Run {
            handler: super::run::status,
            args: &[],
        },
    },
    Command {
        name: "registers",
        aliases: &[],
        synopsis: "",
        help: "the vCPU's registers, as QEMU prints them",
        action: Action::Run {
            handler: super::run::registers,
            args: &[],
        },
    },
    Command {
        name: "lifetime",
        aliases: &[],
        synopsis: "",
        help: "live objects by type, device references, unassigned and in-flight accesses",
        action: Action::Run {
            handler: lifetime,
            args: &[],
        },
    },
];

fn qom_tree(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    match args {
        [] => Ok(qom_rt::qom_tree(monitor.machine().path())?),
        [path] => Ok(qom_rt::qom_tree(path)?),
        _ => Err(Failure::Usage),
    }
}

/// `info types [FILTER]`: every registered type, parent, flags and, for
/// devices and machines, description.
fn types(_: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    let filter = match args {
        [] => None,
        [filter] => Some(*filter),
        _ => return Err(Failure::Usage),
    };
    let mut out = String::new();
    for info in qom_rt::types() {
        if filter.is_some_and(|f| !info.name().contains(f)) {
            continue;
        }
        let _ = write!(out, "{}", info.name());
        if let Some(parent) = info.parent() {
            let _ = write!(out, " (parent: {})", parent.name());
        }
        if info.is_abstract() {
            out.push_str(" [abstract]");
        }
        let interfaces = info.interfaces();
        if !interfaces.is_empty() {
            let _ = write!(out, " [interfaces: {}]", interfaces.join(", "));
        }
        // The one-line description a device or board class carries, as
        // QEMU's `-device help` prints `desc "..."`.
        let description = info
            .class::<DeviceClass>()
            .map(|c| c.description)
            .or_else(|| {
                info.class::<qom_devices::machine::MachineClass>()
                    .map(|c| c.description)
            })
            .unwrap_or_default();
        if !description.is_empty() {
            let _ = write!(out, " -- {description}");
        }
        out.push('\n');
    }
    Ok(out)
}

fn mtree(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    match args {
        [] => Ok(monitor.machine().info_mtree()),
        _ => Err(Failure::Usage),
    }
}

fn qtree(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    match args {
        [] => Ok(monitor.machine().info_qtree()),
        _ => Err(Failure::Usage),
    }
}

fn pci(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    match args {
        [] => Ok(monitor.machine().info_pci()),
        _ => Err(Failure::Usage),
    }
}

/// `info usb`: one line per USB device, as HMP.
fn usb(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    match args {
        [] => Ok(monitor.machine().info_usb()),
        _ => Err(Failure::Usage),
    }
}

/// `info lifetime`: live objects by type (including ones that outlived
/// their place in the tree), the references of each device in the tree,
/// unassigned-access counters, and the accesses `mmio hold` keeps.
fn lifetime(monitor: &mut Monitor, args: &[&str], _: &str) -> Result<String, Failure> {
    if !args.is_empty() {
        return Err(Failure::Usage);
    }
    let machine = monitor.machine();
    let mut out = String::from("live objects by type (devices and memory regions):\n");
    for (name, counts) in qom_devices::lifetime::counts() {
        let _ = writeln!(
            out,
            "  {name:<20} live {:<4} finalized {}",
            counts.live, counts.finalized
        );
    }
    out.push_str("references of devices in the tree (refs / storage refs):\n");
    if let Ok(top) = qom_rt::resolve_path(machine.path()) {
        qom_devices::clock::visit(&top, &mut |object| {
            if object.class::<DeviceClass>().is_some() {
                let h = object.header();
                let _ = writeln!(
                    out,
                    "  {:<44} {:>3} / {}",
                    object.canonical_path().unwrap_or_default(),
                    h.ref_count(),
                    h.storage_count()
                );
            }
        });
    }
    let _ = writeln!(
        out,
        "unassigned accesses: {} (system memory: {})",
        qom_devices::memory::total_unassigned_accesses(),
        machine.system().unassigned_accesses()
    );
    let _ = writeln!(out, "accesses in flight: {}", monitor.held.len());
    for held in &monitor.held {
        let owner = held.owner();
        let h = owner.header();
        let _ = writeln!(
            out,
            "  holding {} at {}: refs {} / storage {}, {:?}",
            owner.type_name(),
            owner
                .canonical_path()
                .unwrap_or_else(|| "<detached>".into()),
            h.ref_count(),
            h.storage_count(),
            h.state()
        );
    }
    Ok(out)
}

//! The machine commands: version and run state, hotplug, the PCI bus and
//! HMP passthrough. Each calls the operation HMP's command calls.

use super::commands::{Empty, NoArgs};
use super::errors::{from_command, from_devices};
use super::schema::{qapi_struct, Member, QapiType, SchemaType};
use super::wire::{self, QmpError, VersionTriple};
use crate::commands::{hotplug, request_quit, run};
use crate::monitor::{Flow, Monitor};
use qom_devices::pci::BarKind;
use qom_devices::DeviceOptions;
use qom_vmm::RunState;
use serde::Deserialize;
use serde_json::{Map, Value};

qapi_struct! {
    /// `query-version`'s answer (and the greeting's `version`).
    pub struct VersionInfo {
        /// The version, in the member QEMU calls `qemu`.
        qemu: VersionTriple,
        /// `qom` and the version.
        package: String,
    }
}

qapi_struct! {
    /// `query-status`' answer.
    pub struct StatusInfo {
        /// Whether guest code runs.
        running: bool,
        /// Always false (QEMU's single-step mode).
        singlestep: bool,
        /// QEMU's `RunState` name: `running`, `paused`, `prelaunch`,
        /// `shutdown`, `internal-error`.
        status: String,
    }
}

/// `device_add`'s arguments: QEMU's `driver`, `id` and `bus`, and any
/// other member as a device property. Written out rather than declared
/// with `qapi_struct!`, because it keeps the members it does not declare.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeviceAddArgs {
    /// The device type.
    pub driver: String,
    /// Its id: its name under `/machine/peripheral`.
    pub id: Option<String>,
    /// The bus to plug it into: the root PCI bus, a root port's id, or
    /// a USB bus; passed on as the device's `bus` property.
    pub bus: Option<String>,
    /// Every other member: a property and its value.
    #[serde(flatten)]
    pub properties: Map<String, Value>,
}

impl QapiType for DeviceAddArgs {
    fn schema() -> SchemaType {
        SchemaType::Object("DeviceAddArgs", || {
            vec![
                Member::of::<String>("driver", None),
                Member::of::<Option<String>>("id", None),
                Member::of::<Option<String>>("bus", None),
            ]
        })
    }
}

qapi_struct! {
    /// `device_del`'s arguments.
    pub struct DeviceDelArgs {
        /// The device's id.
        id: String,
    }
}

qapi_struct! {
    /// `human-monitor-command`'s arguments.
    pub struct HmpArgs {
        /// The HMP command line.
        command_line: String,
        /// Accepted for QEMU's clients; the monitor has one vCPU view.
        cpu_index: Option<i64>,
    }
}

qapi_struct! {
    /// One PCI bus in `query-pci`.
    pub struct PciInfo {
        /// The bus number.
        bus: u64,
        /// Its functions.
        devices: Vec<PciDeviceInfo>,
    }
}

qapi_struct! {
    /// One function in `query-pci`.
    pub struct PciDeviceInfo {
        /// The bus number.
        bus: u64,
        /// The slot.
        slot: u64,
        /// The function.
        function: u64,
        /// Its class.
        class_info as "class_info": PciDeviceClassInfo,
        /// Its IDs.
        id: PciDeviceId,
        /// Its BARs.
        regions: Vec<PciMemoryRegion>,
        /// The device's id (`id=`), empty for a board's own function, as QEMU's.
        qdev_id as "qdev_id": String,
    }
}

qapi_struct! {
    /// A function's class.
    pub struct PciDeviceClassInfo {
        /// The class name, where known.
        desc: Option<String>,
        /// Class and subclass (the top 16 bits of the class code).
        class: u64,
    }
}

qapi_struct! {
    /// A function's IDs.
    pub struct PciDeviceId {
        /// The device ID.
        device: u64,
        /// The vendor ID.
        vendor: u64,
    }
}

qapi_struct! {
    /// One BAR.
    pub struct PciMemoryRegion {
        /// Its index.
        bar: u64,
        /// `memory` or `io`.
        r#type: String,
        /// Where it is mapped; -1 while it is not (QEMU's
        /// `PCI_BAR_UNMAPPED`).
        address: i64,
        /// Its size in bytes.
        size: u64,
        /// For a memory BAR: whether it is 64-bit.
        mem_type_64 as "mem_type_64": Option<bool>,
    }
}

pub(super) fn query_version(_: &mut Monitor, _: NoArgs) -> Result<VersionInfo, QmpError> {
    Ok(VersionInfo {
        qemu: VersionTriple::current(),
        package: wire::package(),
    })
}

pub(super) fn query_status(monitor: &mut Monitor, _: NoArgs) -> Result<StatusInfo, QmpError> {
    let state = run::guest(monitor).map_err(from_command)?.status();
    let status = match state {
        RunState::Prelaunch => "prelaunch",
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::PostMigrate => "postmigrate",
        RunState::GuestExit(_) | RunState::Shutdown(_) => "shutdown",
        RunState::InternalError(_) => "internal-error",
    };
    Ok(StatusInfo {
        running: state == RunState::Running,
        singlestep: false,
        status: status.into(),
    })
}

pub(super) fn stop(monitor: &mut Monitor, _: NoArgs) -> Result<Empty, QmpError> {
    run::stop_guest(monitor).map_err(from_command)?;
    Ok(Empty {})
}

pub(super) fn cont(monitor: &mut Monitor, _: NoArgs) -> Result<Empty, QmpError> {
    run::cont_guest(monitor).map_err(from_command)?;
    Ok(Empty {})
}

pub(super) fn system_reset(monitor: &mut Monitor, _: NoArgs) -> Result<Empty, QmpError> {
    run::reset_guest(monitor).map_err(from_command)?;
    Ok(Empty {})
}

pub(super) fn quit(monitor: &mut Monitor, _: NoArgs) -> Result<Empty, QmpError> {
    request_quit(monitor);
    Ok(Empty {})
}

/// A property value from JSON in the string form `-device` takes.
fn option_text(key: &str, value: &Value) -> Result<String, QmpError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "on" } else { "off" }.into()),
        other => Err(QmpError::generic(format!(
            "Invalid parameter type for '{key}', expected: string, number or boolean (got `{other}`)"
        ))),
    }
}

pub(super) fn device_add(monitor: &mut Monitor, args: DeviceAddArgs) -> Result<Empty, QmpError> {
    let mut properties = args
        .properties
        .iter()
        .map(|(k, v)| Ok((k.clone(), option_text(k, v)?)))
        .collect::<Result<Vec<_>, QmpError>>()?;
    // `bus` is the device's property, as on `-device`: the PCI bus
    // (`pcie.0`, a root port's id) or a USB controller's bus.
    if let Some(bus) = args.bus {
        properties.insert(0, ("bus".to_string(), bus));
    }
    let options = DeviceOptions {
        type_name: args.driver,
        id: args.id,
        properties,
        help: false,
    };
    hotplug::add(monitor, &options).map_err(from_devices)?;
    Ok(Empty {})
}

pub(super) fn device_del(monitor: &mut Monitor, args: DeviceDelArgs) -> Result<Empty, QmpError> {
    hotplug::del(monitor, &args.id).map_err(from_devices)?;
    Ok(Empty {})
}

pub(super) fn query_pci(monitor: &mut Monitor, _: NoArgs) -> Result<Vec<PciInfo>, QmpError> {
    let functions = qom_devices::pci::describe(&monitor.machine().object().pci_functions());
    let devices = functions
        .into_iter()
        .map(|f| PciDeviceInfo {
            bus: 0,
            slot: f.slot.into(),
            function: f.function.into(),
            class_info: PciDeviceClassInfo {
                desc: (f.class_name != "Device").then(|| f.class_name.to_string()),
                class: (f.class_code >> 8).into(),
            },
            id: PciDeviceId {
                device: f.device_id.into(),
                vendor: f.vendor_id.into(),
            },
            regions: f
                .bars
                .iter()
                .map(|bar| PciMemoryRegion {
                    bar: bar.index as u64,
                    r#type: if bar.kind == BarKind::Io {
                        "io"
                    } else {
                        "memory"
                    }
                    .into(),
                    address: bar.address.map_or(-1, |a| a as i64),
                    size: bar.size,
                    mem_type_64: (bar.kind != BarKind::Io).then_some(bar.kind == BarKind::Memory64),
                })
                .collect(),
            // QEMU's qdev id: the `id=` given, empty for the board's own.
            qdev_id: qom_devices::pci::qdev_id(&f.path).to_string(),
        })
        .collect();
    Ok(vec![PciInfo { bus: 0, devices }])
}

/// `human-monitor-command`: the HMP line's output; a failed command's
/// error line is part of the output (`Error: ...`), as in QEMU, not a
/// QMP error. `quit` ends the process as QMP's `quit` does.
pub(super) fn human_monitor_command(
    monitor: &mut Monitor,
    args: HmpArgs,
) -> Result<String, QmpError> {
    match monitor.execute(&args.command_line) {
        Ok((output, Flow::Continue)) => Ok(output),
        Ok((output, Flow::Quit)) => {
            // `execute` consumed the flag `quit` set: set it again for
            // the session to see.
            monitor.quit = true;
            Ok(output)
        }
        Err(e) => Ok(format!("Error: {e}\n")),
    }
}

qapi_struct! {
    /// `migrate`'s arguments.
    pub struct MigrateArgs {
        /// Where the stream goes: `file:PATH`, `tcp:HOST:PORT`, `unix:PATH`.
        uri: String,
        /// Accepted and ignored (QEMU's deprecated `detach`): `migrate`
        /// returns once the stream is written and answered.
        detach: Option<bool>,
    }
}

qapi_struct! {
    /// `query-migrate`'s `ram` member: guest RAM is not migrated yet
    /// (device state only), so this counts the device stream.
    pub struct MigrationStats {
        /// Bytes sent.
        transferred: u64,
        /// Bytes still to send (0 once done).
        remaining: u64,
        /// Bytes in all (guest RAM, or the device stream without a
        /// guest).
        total: u64,
        /// Pages dirtied during the last pre-copy round.
        dirty_pages_rate: Option<u64>,
        /// Pre-copy rounds.
        dirty_sync_count: Option<u64>,
        /// Zero pages, sent as one byte.
        duplicate: Option<u64>,
        /// Pages sent with their bytes.
        normal: Option<u64>,
    }
}

qapi_struct! {
    /// `query-migrate`'s answer (QEMU's `MigrationInfo`): empty before the
    /// first migration.
    pub struct MigrationInfo {
        /// `completed` or `failed`.
        status: Option<String>,
        /// Milliseconds from start to the destination's answer.
        total_time: Option<u64>,
        /// The stream's size.
        ram: Option<MigrationStats>,
        /// Why it failed.
        error_desc: Option<String>,
        /// Milliseconds the guest was stopped.
        downtime: Option<u64>,
    }
}

/// `migrate`: the same implementation as HMP's.
pub(super) fn migrate(monitor: &mut Monitor, args: MigrateArgs) -> Result<Empty, QmpError> {
    // As QEMU's: a guest's migration runs on in the background
    // (`query-migrate` follows it).
    crate::commands::migration::run_migrate(monitor, &args.uri, true).map_err(QmpError::generic)?;
    Ok(Empty {})
}

/// `query-migrate`: the last migration, as `info migrate` shows it.
pub(super) fn query_migrate(monitor: &mut Monitor, _: NoArgs) -> Result<MigrationInfo, QmpError> {
    let last = &crate::commands::migration::current(monitor);
    if last.status.is_empty() {
        return Ok(MigrationInfo {
            status: None,
            total_time: None,
            ram: None,
            error_desc: None,
            downtime: None,
        });
    }
    Ok(MigrationInfo {
        status: Some(last.status.to_string()),
        total_time: Some(last.total_time_ms),
        ram: Some(match &last.ram {
            Some(ram) => MigrationStats {
                transferred: ram.transferred,
                remaining: ram.remaining,
                total: ram.total_ram,
                dirty_pages_rate: Some(ram.dirty_pages),
                dirty_sync_count: Some(ram.iterations),
                duplicate: Some(ram.zero_pages),
                normal: Some(ram.data_pages),
            },
            None => MigrationStats {
                transferred: last.transferred,
                remaining: 0,
                total: last.transferred,
                dirty_pages_rate: None,
                dirty_sync_count: None,
                duplicate: None,
                normal: None,
            },
        }),
        downtime: last
            .ram
            .as_ref()
            .and_then(|r| r.downtime)
            .map(|d| d.as_millis() as u64),
        error_desc: last.error.clone(),
    })
}

/// `migrate_cancel`: nothing is in flight once `migrate` has returned;
/// as QEMU with no active migration, it succeeds and does nothing.
pub(super) fn migrate_cancel(monitor: &mut Monitor, _: NoArgs) -> Result<Empty, QmpError> {
    crate::commands::migration_kvm::cancel(monitor);
    Ok(Empty {})
}

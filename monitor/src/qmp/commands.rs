//! The command table: every QMP command declared once, with its typed
//! argument and return structs. Dispatch, the argument checks,
//! `query-commands` and `query-qmp-schema` all read it.

use super::schema::{check_arguments, describe_type, qapi_struct, QapiType, SchemaType};
use super::wire::{ErrorClass, QmpError};
use super::{machine, qom};
use crate::monitor::Monitor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A command's entry point: the monitor and the request's arguments,
/// checked and decoded inside.
type Run = fn(&mut Monitor, Map<String, Value>) -> Result<Value, QmpError>;

/// One QMP command.
pub struct QmpCommand {
    /// Its name (`qom-get`).
    pub name: &'static str,
    /// What it does, one line.
    pub doc: &'static str,
    /// Its argument struct.
    pub arg_type: fn() -> SchemaType,
    /// What it returns.
    pub ret_type: fn() -> SchemaType,
    /// Whether it takes members its argument struct does not declare
    /// (`device_add`'s device properties).
    pub open: bool,
    run: Run,
}

impl QmpCommand {
    /// Checks `arguments` against the argument struct (QEMU's error
    /// texts), decodes them, runs the command and encodes its answer.
    pub fn run(
        &self,
        monitor: &mut Monitor,
        arguments: Map<String, Value>,
    ) -> Result<Value, QmpError> {
        check_arguments((self.arg_type)(), &arguments, self.open).map_err(QmpError::generic)?;
        (self.run)(monitor, arguments)
    }
}

/// Decodes checked arguments; what the checks let through and serde
/// still refuses (an integer out of range) is a generic error naming it.
fn decode<T: DeserializeOwned>(arguments: Map<String, Value>) -> Result<T, QmpError> {
    serde_json::from_value(Value::Object(arguments))
        .map_err(|e| QmpError::generic(format!("Invalid parameter: {e}")))
}

fn encode<T: Serialize>(value: T) -> Result<Value, QmpError> {
    serde_json::to_value(value)
        .map_err(|e| QmpError::generic(format!("cannot encode the answer: {e}")))
}

qapi_struct! {
    /// The arguments of a command that takes none.
    pub struct NoArgs {}
}

qapi_struct! {
    /// What a command that returns nothing returns: `{}`.
    pub struct Empty {}
}

qapi_struct! {
    /// `qmp_capabilities`' arguments.
    pub struct CapabilitiesArgs {
        /// Capabilities to turn on; the server offers none.
        enable: Option<Vec<String>>,
    }
}

qapi_struct! {
    /// One entry of `query-commands`.
    pub struct CommandInfo {
        /// The command's name.
        name: String,
    }
}

/// Declares the table: for each command its doc line, name, `(open)` if
/// it takes undeclared members, handler, argument and return types.
macro_rules! qmp_commands {
    ($(
        #[doc = $doc:literal]
        $name:literal $(($open:ident))? => $handler:path, $args:ty => $ret:ty;
    )*) => {
        /// Every QMP command, in the order `query-commands` lists them.
        pub static COMMANDS: &[QmpCommand] = &[$(
            QmpCommand {
                name: $name,
                doc: $doc,
                arg_type: <$args as QapiType>::schema,
                ret_type: <$ret as QapiType>::schema,
                open: false $(|| !stringify!($open).is_empty())?,
                run: |monitor, arguments| {
                    let arguments: $args = decode(arguments)?;
                    let answer: $ret = $handler(monitor, arguments)?;
                    encode(answer)
                },
            },
        )*];
    };
}

qmp_commands! {
    /// Negotiates capabilities; only accepted once, before anything else.
    "qmp_capabilities" => capabilities, CapabilitiesArgs => Empty;
    /// The server's version.
    "query-version" => machine::query_version, NoArgs => machine::VersionInfo;
    /// Every command's name.
    "query-commands" => query_commands, NoArgs => Vec<CommandInfo>;
    /// The commands, events and types, generated from this table.
    "query-qmp-schema" => query_qmp_schema, NoArgs => Vec<Value>;
    /// The guest's run state.
    "query-status" => machine::query_status, NoArgs => machine::StatusInfo;
    /// Stops the guest's vCPUs.
    "stop" => machine::stop, NoArgs => Empty;
    /// Starts or resumes the guest.
    "cont" => machine::cont, NoArgs => Empty;
    /// Resets the machine.
    "system_reset" => machine::system_reset, NoArgs => Empty;
    /// Ends the process.
    "quit" => machine::quit, NoArgs => Empty;
    /// An object's children, links and properties.
    "qom-list" => qom::qom_list, qom::PathArgs => Vec<qom::ObjectPropertyInfo>;
    /// A property's value.
    "qom-get" => qom::qom_get, qom::QomGetArgs => Value;
    /// Sets a property.
    "qom-set" => qom::qom_set, qom::QomSetArgs => Empty;
    /// The registered types, filtered.
    "qom-list-types" => qom::qom_list_types, qom::ListTypesArgs => Vec<qom::ObjectTypeInfo>;
    /// A type's properties.
    "qom-list-properties" => qom::qom_list_properties, qom::TypenameArgs => Vec<qom::ObjectPropertyInfo>;
    /// A device type's properties.
    "device-list-properties" => qom::device_list_properties, qom::TypenameArgs => Vec<qom::ObjectPropertyInfo>;
    /// Creates, realizes and plugs a device.
    "device_add" (open) => machine::device_add, machine::DeviceAddArgs => Empty;
    /// Unplugs, unrealizes and removes a device; DEVICE_DELETED follows.
    "device_del" => machine::device_del, machine::DeviceDelArgs => Empty;
    /// Saves the device state to a file or sends it to a `qom -incoming`.
    "migrate" => machine::migrate, machine::MigrateArgs => Empty;
    /// The last migration's status, time and size.
    "query-migrate" => machine::query_migrate, NoArgs => machine::MigrationInfo;
    /// Cancels a migration in flight (there is none once `migrate` returns).
    "migrate_cancel" => machine::migrate_cancel, NoArgs => Empty;
    /// The PCI bus and its functions.
    "query-pci" => machine::query_pci, NoArgs => Vec<machine::PciInfo>;
    /// Runs an HMP command line and returns its output.
    "human-monitor-command" => machine::human_monitor_command, machine::HmpArgs => String;
}

/// The command named `name`.
pub fn find(name: &str) -> Option<&'static QmpCommand> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `qmp_capabilities` after negotiation (before it, the session answers
/// it): QEMU's refusal.
fn capabilities(_: &mut Monitor, _: CapabilitiesArgs) -> Result<Empty, QmpError> {
    Err(QmpError::new(
        ErrorClass::CommandNotFound,
        "Capabilities negotiation is already complete, command ignored",
    ))
}

fn query_commands(_: &mut Monitor, _: NoArgs) -> Result<Vec<CommandInfo>, QmpError> {
    Ok(COMMANDS
        .iter()
        .map(|c| CommandInfo {
            name: c.name.to_string(),
        })
        .collect())
}

/// `query-qmp-schema`: QEMU's `SchemaInfo` list (`qapi/introspect.json`)
/// for every command and event and the types they use, with the Rust
/// struct names as type names (QEMU numbers its types instead).
fn query_qmp_schema(_: &mut Monitor, _: NoArgs) -> Result<Vec<Value>, QmpError> {
    Ok(schema())
}

/// The schema `query-qmp-schema` returns.
pub fn schema() -> Vec<Value> {
    let (mut out, mut seen) = (Vec::new(), Vec::new());
    for command in COMMANDS {
        let (args, ret) = ((command.arg_type)(), (command.ret_type)());
        describe_type(args, &mut out, &mut seen);
        describe_type(ret, &mut out, &mut seen);
        out.push(json!({
            "name": command.name, "meta-type": "command",
            "arg-type": args.name(), "ret-type": ret.name(),
            "allow-oob": false,
        }));
    }
    for (name, data) in super::events::EVENTS {
        describe_type(data(), &mut out, &mut seen);
        out.push(json!({ "name": name, "meta-type": "event", "arg-type": data().name() }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_command_is_documented() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        assert!(COMMANDS.iter().all(|c| !c.doc.is_empty()));
        assert_eq!(
            COMMANDS
                .iter()
                .filter(|c| c.open)
                .map(|c| c.name)
                .collect::<Vec<_>>(),
            ["device_add"]
        );
    }

    #[test]
    fn the_schema_describes_each_command_with_its_members() {
        let schema = schema();
        let entry = |name: &str| schema.iter().find(|e| e["name"] == name).cloned().unwrap();
        let qom_get = entry("qom-get");
        assert_eq!(qom_get["meta-type"], "command");
        assert_eq!(qom_get["ret-type"], "any");
        let args = entry(qom_get["arg-type"].as_str().unwrap());
        let members: Vec<&str> = args["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(members, ["path", "property"]);
        let list_types = entry(entry("qom-list-types")["arg-type"].as_str().unwrap());
        assert_eq!(
            list_types["members"][1],
            json!({"name": "abstract", "type": "bool", "default": null})
        );
        assert_eq!(entry("DEVICE_DELETED")["meta-type"], "event");
        assert_eq!(entry("[CommandInfo]")["element-type"], "CommandInfo");
    }
}

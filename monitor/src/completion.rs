//! Tab completion, driven by the command table: command names, then
//! subcommands, then each argument by what the table says it is.

use crate::commands::{self, Arg, Command, COMMANDS};
use qom_devices::Machine;
use qom_rt::ObjectTree;

/// Completions for `line`, the text before the cursor: the byte offset
/// where the text being completed starts, and the candidates for it.
///
/// ```
/// use qom_devices::Machine;
/// use qom_monitor::complete;
///
/// let machine = Machine::create_at("virt", "/doc-complete")?;
/// assert_eq!(complete(&machine, "device_d"), (0, vec!["device_del".to_string()]));
/// assert_eq!(complete(&machine, "info mt"), (5, vec!["mtree".to_string()]));
/// assert_eq!(complete(&machine, "device_add xhci"), (11, vec!["xhci-pci".to_string()]));
/// # Ok::<(), qom_devices::Error>(())
/// ```
pub fn complete(machine: &Machine, line: &str) -> (usize, Vec<String>) {
    let start = line
        .char_indices()
        .rfind(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &line[start..];
    let words: Vec<&str> = line[..start].split_whitespace().collect();
    let Some((name, args)) = words.split_first() else {
        return (start, matching(word, commands::names(COMMANDS)));
    };
    let Some(mut command) = commands::find(COMMANDS, name) else {
        return (start, Vec::new());
    };
    // Down the subcommands the words name, to the command whose
    // arguments are being typed.
    let mut args = args;
    while !command.subcommands().is_empty() {
        let Some((sub, rest)) = args.split_first() else {
            return (
                start,
                matching(word, commands::names(command.subcommands())),
            );
        };
        match commands::find(command.subcommands(), sub) {
            Some(found) => (command, args) = (found, rest),
            None => return (start, Vec::new()),
        }
    }
    let candidates = match command.arg(args.len()) {
        Arg::Path => paths(word),
        Arg::PropertyOf(index) => args.get(index).map_or_else(Vec::new, |p| properties(p)),
        Arg::DeviceId => device_ids(machine),
        Arg::DeviceOptions => return device_options(machine, start, word),
        Arg::TypeName => qom_rt::types().iter().map(|t| t.name().into()).collect(),
        Arg::CommandName => command_names(args).into_iter().map(String::from).collect(),
        Arg::Console => vec!["serial".into(), "debugcon".into()],
        Arg::MigrationUri => commands::migration::complete_uri(word),
        Arg::Free => Vec::new(),
    };
    (start, matching(word, candidates))
}

/// The candidates that start with `prefix`, once each, in order.
fn matching<S: AsRef<str>>(prefix: &str, candidates: Vec<S>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in candidates {
        let c = c.as_ref();
        if c.starts_with(prefix) && !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    }
    out
}

/// The children of the path typed up to its last `/`, as full paths.
fn paths(word: &str) -> Vec<String> {
    let Some((dir, _)) = word.rsplit_once('/') else {
        return Vec::new();
    };
    let parent = if dir.is_empty() { "/" } else { dir };
    let Ok(object) = qom_rt::resolve_path(parent) else {
        return Vec::new();
    };
    object
        .children()
        .into_iter()
        .map(|c| format!("{dir}/{}", c.name))
        .collect()
}

/// The properties `qom-get` can read on the object at `path`.
fn properties(path: &str) -> Vec<String> {
    qom_rt::qom_list(path)
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| entry.value.is_some())
        .map(|entry| entry.name)
        .collect()
}

/// The ids `device_del` takes: the machine's `peripheral` children.
fn device_ids(machine: &Machine) -> Vec<String> {
    qom_rt::resolve_path(&format!("{}/peripheral", machine.path()))
        .map(|p| p.children().into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

/// `help`'s arguments: a command name, then one of its subcommands.
fn command_names(args: &[&str]) -> Vec<&'static str> {
    match args {
        [] => commands::names(COMMANDS),
        [name] => commands::find(COMMANDS, name)
            .map(Command::subcommands)
            .map_or_else(Vec::new, commands::names),
        _ => Vec::new(),
    }
}

/// `device_add TYPE,key=value,...`: before the first comma a type the
/// machine can hot-plug; after it, the option being typed (`id=`,
/// `help`, or one of the type's properties).
fn device_options(machine: &Machine, start: usize, word: &str) -> (usize, Vec<String>) {
    let Some((type_name, _)) = word.split_once(',') else {
        let types = qom_rt::types()
            .iter()
            .filter(|t| machine.can_hotplug(t))
            .map(|t| t.name());
        return (start, matching(word, types.collect()));
    };
    let option_start = word.rfind(',').map_or(0, |i| i + 1);
    let mut keys = vec!["id=".to_string(), "help".to_string()];
    if let Ok(info) = qom_rt::type_by_name(type_name) {
        // Parent types' properties first, as `device_add TYPE,help`.
        let properties = info
            .ancestors()
            .iter()
            .flat_map(|level| level.own_properties());
        keys.extend(properties.map(|p| format!("{}=", p.name())));
    }
    (start + option_start, matching(&word[option_start..], keys))
}

#[cfg(test)]
mod tests {
    use super::complete;
    use qom_devices::Machine;

    fn candidates(machine: &Machine, line: &str) -> Vec<String> {
        complete(machine, line).1
    }

    #[test]
    fn commands_then_subcommands_then_their_arguments() {
        let m = Machine::create_at("virt", "/complete-cmds").unwrap();
        assert_eq!(candidates(&m, "qom-"), ["qom-list", "qom-get", "qom-set"]);
        assert_eq!(
            candidates(&m, "info "),
            [
                "qom-tree",
                "types",
                "mtree",
                "qtree",
                "pci",
                "migrate",
                "usb",
                "status",
                "registers",
                "lifetime"
            ]
        );
        assert_eq!(candidates(&m, "mmio r"), ["read", "release"]);
        assert_eq!(candidates(&m, "help inf"), ["info"]);
        assert_eq!(candidates(&m, "help info t"), ["types"]);
        assert_eq!(candidates(&m, "wait "), ["serial", "debugcon"]);
        assert_eq!(candidates(&m, "wait d"), ["debugcon"]);
        assert_eq!(candidates(&m, "info r"), ["registers"]);
        assert_eq!(candidates(&m, "sys"), ["system_reset"]);
        assert_eq!(candidates(&m, "info types gpex-p"), ["gpex-pcihost"]);
        assert_eq!(
            candidates(&m, "info types gpex"),
            ["gpex-pcihost", "gpex-root"]
        );
        assert!(candidates(&m, "nosuch ").is_empty());
        assert!(candidates(&m, "mmio read 0x").is_empty());
    }

    #[test]
    fn device_add_offers_only_types_the_machine_can_plug() {
        let m = Machine::create_at("virt", "/complete-add").unwrap();
        let types = candidates(&m, "device_add ");
        assert!(types.contains(&"xhci-pci".to_string()), "{types:?}");
        assert!(types.contains(&"piix3".to_string()), "{types:?}");
        for not_pluggable in [
            "pci-device",
            "device",
            "pl011",
            "base-xhci",
            "container",
            "gpex-root",
        ] {
            assert!(
                !types.contains(&not_pluggable.to_string()),
                "{not_pluggable}: {types:?}"
            );
        }
    }

    #[test]
    fn device_add_options_complete_after_the_last_comma() {
        let m = Machine::create_at("virt", "/complete-opts").unwrap();
        let line = "device_add xhci-pci,id=u,num";
        assert_eq!(
            complete(&m, line),
            (line.len() - 3, vec!["num-ports=".into()])
        );
        assert_eq!(
            candidates(&m, "device_add xhci-pci,"),
            ["id=", "help", "addr=", "bus=", "num-ports=", "p2="]
        );
    }

    #[test]
    fn device_ids_after_device_del_and_properties_after_a_path() {
        let m = Machine::create_at("virt", "/complete-ids").unwrap();
        m.device_add("xhci-pci,id=usb0").unwrap();
        m.device_add("xhci-pci,id=usb1").unwrap();
        assert_eq!(candidates(&m, "device_del "), ["usb0", "usb1"]);
        assert_eq!(candidates(&m, "device_del usb1"), ["usb1"]);
        let path = "/complete-ids/peripheral/usb0";
        assert_eq!(
            candidates(&m, &format!("qom-get {path} ")),
            [
                "type",
                "addr",
                "bus",
                "num-ports",
                "p2",
                "parent_bus",
                "realized",
                "hotplugged",
                "hotpluggable",
                "failover_pair_id",
                "romfile",
                "romsize",
                "x-pcie-lnksta-dllla",
                "rombar",
                "x-pcie-extcap-init",
                "acpi-index",
                "multifunction",
                "legacy-addr",
                "streams"
            ]
        );
        assert_eq!(candidates(&m, &format!("qom-set {path} n")), ["num-ports"]);
        assert_eq!(
            candidates(&m, "qom-list /complete-ids/peripheral/u"),
            [
                "/complete-ids/peripheral/usb0",
                "/complete-ids/peripheral/usb1"
            ]
        );
    }
}

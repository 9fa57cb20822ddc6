//! The command table: names, argument synopsis and help, in the order
//! `help` prints them.

/// One monitor command.
pub struct Command {
    /// The name typed.
    pub name: &'static str,
    /// Arguments, as `help` shows them.
    pub args: &'static str,
    /// One line of help.
    pub help: &'static str,
}

/// Every command, HMP-flavoured.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        args: "[CMD]",
        help: "list commands, or show one command's help",
    },
    Command {
        name: "info",
        args: "qom-tree [PATH] | types [FILTER] | mtree | pci | lifetime",
        help: "show machine state",
    },
    Command {
        name: "device_add",
        args: "TYPE,id=ID,prop=value,... | TYPE,help",
        help: "create, realize and plug a device; TYPE,help lists its properties",
    },
    Command {
        name: "device_del",
        args: "ID",
        help: "unplug, unrealize and remove a device (it finalizes at its last reference)",
    },
    Command {
        name: "qom-list",
        args: "PATH",
        help: "list an object's children, links and properties",
    },
    Command {
        name: "qom-get",
        args: "PATH PROP",
        help: "print a property's value",
    },
    Command {
        name: "qom-set",
        args: "PATH PROP VALUE",
        help: "set a property from a string",
    },
    Command {
        name: "mmio",
        args: "read ADDR SIZE | write ADDR SIZE VALUE | hold ADDR SIZE | release",
        help: "guest accesses through system memory; hold keeps one in flight",
    },
    Command {
        name: "xp",
        args: "ADDR [SIZE]",
        help: "read guest memory (like `mmio read`, default size 4)",
    },
    Command {
        name: "clock_step",
        args: "NS",
        help: "advance the virtual clock",
    },
    Command {
        name: "graph",
        args: "[PATH] [--dot FILE | --svg FILE]",
        help: "the object graph as DOT (printed or to a file) or SVG",
    },
    Command {
        name: "quit",
        args: "",
        help: "leave the monitor",
    },
];

/// The `info` subcommands.
pub const INFO: &[&str] = &["qom-tree", "types", "mtree", "pci", "lifetime"];

/// The command named `name`.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Up to three command names close to `name`.
pub fn suggest(name: &str) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &str)> = COMMANDS
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c.name), c.name))
        .filter(|(d, c)| *d <= 2.max(name.len() / 3) || c.starts_with(name))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

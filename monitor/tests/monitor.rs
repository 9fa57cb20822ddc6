//! The `qom` binary driven as a user would. Every command of the command
//! table has a case (a test fails when one has none): a happy path whose
//! every line's output is checked, and a use that fails with its error
//! line, each run through `-c`, through a script on standard input, and
//! with `--echo`. Then `-device`, `-M`, quoting, bad input classes and the
//! seed transcript.
//!
//! Not under Miri: it cannot spawn processes. The device library's side
//! of the same commands runs in process under Miri through
//! `devices/tests/hotplug.rs`, and the fuzz target `monitor_command`
//! drives `Monitor::execute`.
#![cfg(not(miri))]

use qom_devices::Machine;
use qom_monitor::{Flow, Monitor, COMMANDS};
use qom_rt::prelude::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn qom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("qom runs")
}

fn run(commands: &str) -> Output {
    qom(&["-c", commands])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn script_with(args: &[&str], text: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qom runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// How the commands reach the binary.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `-c "a; b"`.
    Dash,
    /// A script on standard input, one command a line.
    Stdin,
}

/// Runs `lines` through the binary (none may contain `;`).
fn session(mode: Mode, echo: bool, lines: &[&str]) -> Output {
    let echo: &[&str] = if echo { &["--echo"] } else { &[] };
    match mode {
        Mode::Dash => qom(&[echo, &["-c", &lines.join("; ")]].concat()),
        Mode::Stdin => script_with(echo, &(lines.join("\n") + "\n")),
    }
}

/// Cuts an `--echo` transcript of `lines` at each `(qom) LINE` into the
/// output of each line, up to the last line that ran. Only the echo of
/// the line expected next counts as a cut, so an output that does not end
/// a line (a UART's byte) stays with its command.
fn per_command(transcript: &str, lines: &[&str]) -> Vec<String> {
    let mut outputs = Vec::new();
    let mut rest = transcript;
    for (i, line) in lines.iter().enumerate() {
        let marker = format!("(qom) {line}\n");
        let Some(at) = rest.find(&marker) else { break };
        if i == 0 {
            assert_eq!(&rest[..at], "", "nothing before the first command");
        } else {
            outputs.push(rest[..at].to_string());
        }
        rest = &rest[at + marker.len()..];
    }
    if rest.len() < transcript.len() {
        outputs.push(rest.to_string());
    }
    outputs
}

/// What a line prints on standard output.
enum Out {
    /// Exactly this.
    Is(&'static str),
    /// These whole lines, in this order, among others.
    Has(&'static [&'static str]),
}

impl Out {
    fn check(&self, line: &str, got: &str) {
        match self {
            Out::Is(expected) => assert_eq!(got, *expected, "output of `{line}`"),
            Out::Has(expected) => {
                let mut lines = got.lines();
                for want in *expected {
                    assert!(
                        lines.any(|l| l == *want),
                        "output of `{line}` lacks the line {want:?} (or has it out of order):\n{got}"
                    );
                }
            }
        }
    }
}

/// One command of the table, used as a user would.
struct Case {
    /// The command as the table names it: `xp`, `info pci`, `mmio hold`.
    command: &'static str,
    /// The happy path: lines run in order, the command's own among them,
    /// and what each prints.
    steps: &'static [(&'static str, Out)],
    /// A use of the command that fails, run after the steps, and its
    /// error line (after `Error: `).
    error: (&'static str, &'static str),
    /// The test that runs the happy path, where `steps` cannot, and why.
    happy_elsewhere: Option<&'static str>,
}

const fn case(
    command: &'static str,
    steps: &'static [(&'static str, Out)],
    error: (&'static str, &'static str),
) -> Case {
    Case {
        command,
        steps,
        error,
        happy_elsewhere: None,
    }
}

const ADD_USB0: (&str, Out) = ("device_add xhci-pci,id=usb0", Out::Is(""));
/// What the run-state commands say on a machine without a guest.
const NO_GUEST: &str = "no guest runs on machine `virt`: start qom with -accel kvm (on -M pc)";
const HOLDING_USB0: &str =
    "access at 0x10000004 in flight, holding a reference on /machine/peripheral/usb0/xhci-core\n";

static CASES: &[Case] = &[
    case(
        "help",
        &[
            (
                "help device_del",
                Out::Is("device_del ID -- unplug, unrealize and remove a device (it finalizes at its last reference)\n"),
            ),
            (
                "help",
                Out::Has(&[
                    "help [CMD [SUBCMD]] -- list commands, or show one command's help and subcommands (also ?)",
                    "xp /FMT ADDR | ADDR [SIZE] -- read guest memory: QEMU's /[COUNT][x|d|u|o|c][b|h|w|g], or one read (default size 4)",
                    "quit -- leave the monitor (also q)",
                ]),
            ),
        ],
        ("help nosuch", "no command `nosuch`; type `help` for the list"),
    ),
    case(
        "info qom-tree",
        &[
            ADD_USB0,
            (
                "info qom-tree /machine/peripheral",
                Out::Is("/peripheral (container)\n  /usb0 (xhci-pci)\n    /xhci-core (base-xhci)\n      /mem (memory-region)\n"),
            ),
        ],
        (
            "info qom-tree /machine/nowhere",
            "no object at path `/machine/nowhere`: `/machine` has no child with that name",
        ),
    ),
    case(
        "info types",
        &[(
            "info types xhci",
            Out::Is(
                "base-xhci (parent: device) [interfaces: PropertyGuard, ComputedProperties, MmioOps] -- xHCI controller state (BAR 0 registers)\n\
                 qemu-xhci (parent: xhci-pci) [interfaces: PropertyGuard, ComputedProperties, UsbHost] -- xHCI USB controller (QEMU's type name for xhci-pci)\n\
                 xhci-pci (parent: pci-device) [interfaces: PropertyGuard, UsbHost, ComputedProperties] -- xHCI USB controller (qemu-xhci)\n",
            ),
        )],
        ("info types a b", "usage: info types [FILTER]"),
    ),
    case(
        "info mtree",
        &[
            ADD_USB0,
            (
                "info mtree",
                Out::Has(&[
                    "address-space: memory",
                    "  0000000000000000-000000ffffffffff (prio 0, i/o): system",
                    "      0000000009000000-0000000009000fff (prio 0, i/o): pl011",
                    "      0000000010000000-0000000010003fff (prio 1, i/o): xhci",
                    "    0000004010000000-000000401fffffff (prio 0, i/o): alias pcie-ecam \
                     @pcie-mmcfg-mmio 0000000000000000-000000000fffffff",
                    "address-space: pci-memory",
                    "    0000000010000000-0000000010003fff (prio 1, i/o): xhci",
                    "address-space: pci-io",
                ]),
            ),
        ],
        ("info mtree all", "usage: info mtree"),
    ),
    case(
        "info pci",
        &[
            ADD_USB0,
            (
                "info pci",
                Out::Is(
                    "  Bus  0, device   0, function 0:\n    Host bridge: PCI device 1b36:0008\n      \
                     PCI subsystem 1af4:1100\n      id \"\"\n  \
                     Bus  0, device   1, function 0:\n    USB controller: PCI device 1b36:000d\n      \
                     PCI subsystem 1af4:1100\n      IRQ 0, pin A\n      \
                     BAR0: 64 bit memory at 0x10000000 [0x10003fff].\n      id \"usb0\"\n",
                ),
            ),
        ],
        ("info pci 0", "usage: info pci"),
    ),
    case(
        "info lifetime",
        &[
            ADD_USB0,
            ("mmio hold 0x10000004 4", Out::Is(HOLDING_USB0)),
            ("device_del usb0", Out::Is("")),
            (
                "info lifetime",
                Out::Has(&[
                    "live objects by type (devices and memory regions):",
                    "  base-xhci            live 1    finalized 0",
                    "  xhci-pci             live 0    finalized 1",
                    "references of devices in the tree (refs / storage refs):",
                    "  /machine/soc                                   2 / 6",
                    "unassigned accesses: 0 (system memory: 0)",
                    "accesses in flight: 1",
                    "  holding base-xhci at <detached>: refs 1 / storage 2, Live",
                ]),
            ),
        ],
        ("info lifetime now", "usage: info lifetime"),
    ),
    case(
        "info qtree",
        &[
            ADD_USB0,
            (
                "info qtree",
                Out::Has(&[
                    "bus: main-system-bus",
                    "  type System",
                    "  dev: gpex-pcihost, id \"\"",
                    "    bus: pcie.0",
                    "      type PCIE",
                    "      dev: xhci-pci, id \"usb0\"",
                    "        addr = 01.0",
                    "        class USB controller, addr 00:01.0, pci id 1b36:000d (sub 1af4:1100)",
                    "        bar 0: mem at 0x10000000 [0x10003fff]",
                    "        bus: usb0.0",
                    "          type usb-bus",
                    "      dev: gpex-root, id \"\"",
                    "        addr = 00.0",
                ]),
            ),
        ],
        ("info qtree now", "usage: info qtree"),
    ),
    case(
        "device_add",
        &[
            ("device_add xhci-pci,id=usb0,num-ports=8", Out::Is("")),
            ("qom-get /machine/peripheral/usb0 num-ports", Out::Is("8\n")),
            // Computed: plugged by the monitor, into the first free slot
            // (devfn 8), realized; read-only.
            ("qom-get /machine/peripheral/usb0 hotplugged", Out::Is("true\n")),
            ("qom-get /machine/peripheral/usb0 realized", Out::Is("true\n")),
            ("qom-get /machine/peripheral/usb0 addr", Out::Is("8\n")),
            ("qom-get /machine/peripheral/usb0 legacy-addr", Out::Is("\"01.0\"\n")),

            // HCSPARAMS1: MaxPorts 12, num-ports plus p2 (4).
            ("mmio read 0x10000004 4", Out::Is("0xc001040\n")),
            (
                "device_add xhci-pci,help",
                Out::Has(&[
                    "xhci-pci options:",
                    "  addr=<int32>                   - slot on the PCI bus in hex (e.g. 03.0), or auto; read back as QEMU's devfn",
                    "  num-ports=<uint32>             - number of USB 3 root hub ports (1-15) (default: 4)",
                ]),
            ),
        ],
        (
            "device_add xhci-pci,id=usb1,num-ports=99",
            "device `/machine/peripheral/usb1` failed to realize: num-ports must be between 1 and 15, not 99",
        ),
    ),
    case(
        "device_del",
        &[
            ADD_USB0,
            ("mmio read 0x10000004 4", Out::Is("0x8001040\n")),
            ("device_del usb0", Out::Is("")),
            (
                "info qom-tree /machine/peripheral",
                Out::Is("/peripheral (container)\n"),
            ),
            ("mmio read 0x10000004 4", Out::Is("0xffffffff\n")),
        ],
        ("device_del usb0", "no device with id `usb0`"),
    ),
    case(
        "qom-list",
        &[
            (
                "qom-list /machine/soc/uarts[0]",
                Out::Is("type (string)\niomem (child<memory-region>)\nparent_bus (link<bus>)\nrealized (bool)\nhotplugged (bool)\nhotpluggable (bool)\n"),
            ),
            ADD_USB0,
            (
                "qom-list /machine/peripheral/usb0",
                Out::Is("type (string)\nxhci-core (child<base-xhci>)\naddr (int32)\nbus (string)\nnum-ports (uint32)\np2 (uint32)\nparent_bus (link<bus>)\nrealized (bool)\nhotplugged (bool)\nhotpluggable (bool)\nfailover_pair_id (str)\nromfile (str)\nromsize (uint32)\nx-pcie-lnksta-dllla (bool)\nrombar (uint32)\nx-pcie-extcap-init (bool)\nacpi-index (uint32)\nmultifunction (bool)\nlegacy-addr (str)\nstreams (bool)\n"),
            ),
        ],
        (
            "qom-list /machine/nowhere",
            "no object at path `/machine/nowhere`: `/machine` has no child with that name",
        ),
    ),
    case(
        "qom-get",
        &[
            ("qom-get /machine/soc/uarts[0] type", Out::Is("\"pl011\"\n")),
            ("device_add xhci-pci,id=usb0,p2=2", Out::Is("")),
            ("qom-get /machine/peripheral/usb0 p2", Out::Is("2\n")),
            ("qom-get /machine/peripheral/usb0 addr", Out::Is("8\n")),
        ],
        (
            "qom-get /machine/soc/uarts[0] nosuch",
            "`/machine/soc/uarts[0]` has no property `nosuch`",
        ),
    ),
    Case {
        command: "qom-set",
        steps: &[],
        error: (
            "qom-set /machine type x",
            "`/machine`: property `type` cannot be set: `type` is read-only",
        ),
        happy_elsewhere: Some(
            "qom_set_sets_a_property_before_realize: every object of the binary's machine is \
             realized or has only read-only properties",
        ),
    },
    case(
        "mmio read",
        &[
            // PL011 PeriphID0, then the xHCI's HCSPARAMS1 (MaxPorts 7).
            ("mmio read 0x09000fe0 4", Out::Is("0x11\n")),
            ("mmio read 0x09000fe0 1", Out::Is("0x11\n")),
            ("device_add xhci-pci,id=usb0,num-ports=3", Out::Is("")),
            ("mmio read 0x10000004 4", Out::Is("0x7001040\n")),
        ],
        ("mmio read 0x09000fe0 3", "access size `3` must be 1, 2, 4 or 8"),
    ),
    case(
        "mmio write",
        &[
            ADD_USB0,
            // DCBAAP reads back as written.
            ("mmio write 0x10000070 4 0x12345640", Out::Is("")),
            ("mmio read 0x10000070 4", Out::Is("0x12345640\n")),
            // UART 0 enabled, then a byte to its data register: stdout.
            ("mmio write 0x09000030 4 0x301", Out::Is("")),
            ("mmio write 0x09000000 4 0x41", Out::Is("A")),
        ],
        (
            "mmio write 0x10000070 4 zz",
            "`zz` is not a number (decimal or 0x hex)",
        ),
    ),
    case(
        "mmio hold",
        &[
            ("device_add xhci-pci,id=usb0,num-ports=2", Out::Is("")),
            ("mmio hold 0x10000004 4", Out::Is(HOLDING_USB0)),
            ("device_del usb0", Out::Is("")),
            ("mmio release", Out::Is("access completed: 0x6001040\n")),
        ],
        (
            "mmio hold 0x10000004 4",
            "nothing answers at 0x10000004: the access would be unassigned",
        ),
    ),
    case(
        "mmio release",
        &[
            ADD_USB0,
            ("mmio hold 0x10000070 4", Out::Is("access at 0x10000070 in flight, holding a reference on /machine/peripheral/usb0/xhci-core\n")),
            // Written after the access began, before the unplug: the
            // access completes against that, the last live state.
            ("mmio write 0x10000070 4 0xfeedcac0", Out::Is("")),
            ("device_del usb0", Out::Is("")),
            ("mmio release", Out::Is("access completed: 0xfeedcac0\n")),
        ],
        ("mmio release", "no access in flight"),
    ),
    case(
        "xp",
        &[
            ("xp 0x09000fe0", Out::Is("0000000009000fe0: 0x11\n")),
            ("xp 0x09000fe0 1", Out::Is("0000000009000fe0: 0x11\n")),
            ADD_USB0,
            ("xp 0x10000004", Out::Is("0000000010000004: 0x8001040\n")),
            // QEMU's syntax and output (compared with QEMU 7.2 by
            // .ci/fidelity.sh): lines of 16 bytes, the PL011's registers
            // read whole even for a byte dump, decimal, octal, characters.
            (
                "xp /5wx 0x09000fe0",
                Out::Is(
                    "0000000009000fe0: 0x00000011 0x00000010 0x00000014 0x00000000\n\
                     0000000009000ff0: 0x0000000d\n",
                ),
            ),
            (
                "xp /8bx 0x09000fe0",
                Out::Is("0000000009000fe0: 0x11 0x00 0x00 0x00 0x10 0x00 0x00 0x00\n"),
            ),
            ("xp /2hd 0x09000fe0", Out::Is("0000000009000fe0:    17     0\n")),
            (
                "xp /2go 0x09000fe0",
                Out::Is("0000000009000fe0:         01000000000021                    024\n"),
            ),
            (
                "xp /2c 0x09000fe0",
                Out::Is(
                    "0000000009000fe0: '\\x11' '\\x00' '\\x00' '\\x00' '\\x10' '\\x00' '\\x00' '\\x00'\n",
                ),
            ),
            ("xp /2wx 0x0b000000", Out::Is("000000000b000000: Cannot access memory\n")),
        ],
        ("xp 0x09000fe0 3", "access size `3` must be 1, 2, 4 or 8"),
    ),
    case(
        "info migrate",
        &[
            ("info migrate", Out::Is("")),
            ("migrate file:/tmp/qom-case-info-migrate.snap", Out::Is("")),
            ("info migrate", Out::Has(&["Migration status: completed"])),
        ],
        ("info migrate now", "usage: info migrate"),
    ),
    case(
        "migrate_cancel",
        &[("migrate_cancel", Out::Is(""))],
        ("migrate_cancel now", "usage: migrate_cancel"),
    ),
    case(
        "info usb",
        &[
            ADD_USB0,
            // virt takes no USB devices: the controller's bus is empty.
            ("info usb", Out::Is("")),
        ],
        ("info usb 0", "usage: info usb"),
    ),
    Case {
        command: "sendkey",
        steps: &[],
        error: (
            "sendkey ctrl-alt-f1",
            "no keyboard to send keys to: sendkey reaches USB keyboards (device_add usb-kbd,bus=usb0.0)",
        ),
        happy_elsewhere: Some("monitor.rs: sendkey_reaches_the_usb_keyboard (virt has no USB keyboard)"),
    },
    case(
        "clock_step",
        &[
            // SP804 timer 1 enabled, 32-bit, free-running at 1 MHz.
            ("mmio write 0x0c000008 4 0x82", Out::Is("")),
            ("mmio read 0x0c000004 4", Out::Is("0xffffffff\n")),
            ("clock_step 1000", Out::Is("advanced 2 clocked devices by 1000 ns\n")),
            ("mmio read 0x0c000004 4", Out::Is("0xfffffffe\n")),
        ],
        ("clock_step soon", "`soon` is not a number (decimal or 0x hex)"),
    ),
    case(
        "graph",
        &[(
            "graph /machine/soc/uarts[0]",
            Out::Has(&[
                "digraph qom {",
                "  \"/machine/soc/uarts[0]\" [label=\"uarts[0]\\n(pl011)\"];",
                "  \"/machine/soc/uarts[0]\" -> \"/machine/soc/uarts[0]/iomem\" [class=embedded, style=solid, dir=both, arrowtail=diamond, label=\"iomem\"];",
                "}",
            ]),
        )],
        (
            "graph /machine --png x",
            "unknown graph option `--png`; use --dot FILE or --svg FILE",
        ),
    ),
    case(
        "info status",
        &[(
            "info status",
            Out::Is("VM status: no guest (the monitor drives the devices; -accel kvm runs a guest on -M pc)\n"),
        )],
        ("info status now", "usage: info status"),
    ),
    // The run-state commands need a guest (`-M pc -accel kvm`): their
    // happy paths are in `tests/guest.rs`, which skips with a message
    // where `/dev/kvm` is not usable; here, what they say without one.
    Case {
        command: "info registers",
        steps: &[],
        error: ("info registers", NO_GUEST),
        happy_elsewhere: Some("guest.rs: seabios_boots_under_qom_as_under_qemu_and_boots_again_after_system_reset"),
    },
    Case {
        command: "stop",
        steps: &[],
        error: ("stop", NO_GUEST),
        happy_elsewhere: Some("guest.rs: run_state_commands_without_a_guest_say_how_to_get_one, and the SeaBIOS test"),
    },
    Case {
        command: "cont",
        steps: &[],
        error: ("cont", NO_GUEST),
        happy_elsewhere: Some("guest.rs: the SeaBIOS test starts paused (-S) and continues"),
    },
    Case {
        command: "system_reset",
        steps: &[],
        error: ("system_reset", NO_GUEST),
        happy_elsewhere: Some("guest.rs: seabios_boots_under_qom_as_under_qemu_and_boots_again_after_system_reset"),
    },
    Case {
        command: "wait",
        steps: &[],
        error: ("wait serial", "usage: wait serial|debugcon PATTERN [TIMEOUT]"),
        happy_elsewhere: Some("guest.rs: the SeaBIOS test waits for its lines on the debug console"),
    },
    case(
        "migrate",
        &[
            // UART 0's IBRD, saved, overwritten, and loaded back.
            ("mmio write 0x09000024 4 0x27", Out::Is("")),
            ("migrate \"file:/tmp/qom-case-migrate.snap\"", Out::Is("")),
            ("mmio write 0x09000024 4 0x5", Out::Is("")),
            ("migrate_incoming file:/tmp/qom-case-migrate.snap", Out::Is("")),
            ("mmio read 0x09000024 4", Out::Is("0x27\n")),
        ],
        (
            "migrate tcp:127.0.0.1",
            "`tcp:127.0.0.1`: write `tcp:HOST:PORT`, as in `tcp:127.0.0.1:4444`",
        ),
    ),
    case(
        "migrate_incoming",
        &[
            ("mmio write 0x0c000000 4 0x100", Out::Is("")),
            ("migrate -d file:/tmp/qom-case-incoming.snap", Out::Is("")),
            ("mmio write 0x0c000000 4 0x200", Out::Is("")),
            ("migrate_incoming \"file:/tmp/qom-case-incoming.snap\"", Out::Is("")),
            ("mmio read 0x0c000000 4", Out::Is("0x100\n")),
            ADD_USB0,
        ],
        (
            "migrate_incoming file:/tmp/qom-case-incoming.snap",
            "the machine's shape differs from the stream's: this machine has `/machine/peripheral/usb0` (xhci-pci), \
             the stream does not; start the destination with the same devices as the source",
        ),
    ),
    Case {
        command: "quit",
        steps: &[],
        error: ("quit now", "usage: quit"),
        happy_elsewhere: Some("quit_ends_the_session: nothing runs after it"),
    },
];

/// What runs after a case's failing line, and without it, to show that
/// it changed nothing.
const PROBES: [&str; 3] = ["info qom-tree", "info mtree", "info pci"];

/// The commands of the table as typed: `xp`, `info pci`, `mmio hold`.
fn table_commands() -> Vec<String> {
    let mut names = Vec::new();
    for command in COMMANDS {
        match command.subcommands() {
            [] => names.push(command.name.to_string()),
            subcommands => names.extend(
                subcommands
                    .iter()
                    .map(|s| format!("{} {}", command.name, s.name)),
            ),
        }
    }
    names
}

/// Whether `line` runs `command` (by name or alias).
fn runs(line: &str, command: &str) -> bool {
    let (name, sub) = command.split_once(' ').unwrap_or((command, ""));
    let table = COMMANDS.iter().find(|c| c.name == name).unwrap();
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    (first == name || table.aliases.contains(&first))
        && (sub.is_empty() || words.next() == Some(sub))
}

#[test]
fn every_command_in_the_table_has_a_case() {
    let commands = table_commands();
    let missing: Vec<&String> = commands
        .iter()
        .filter(|c| !CASES.iter().any(|case| case.command == c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "commands without a case in CASES: {missing:?}"
    );
    for case in CASES {
        assert!(
            commands.iter().any(|c| c == case.command),
            "a case for `{}`, which the table does not have",
            case.command
        );
        let happy = case.steps.iter().any(|(line, _)| runs(line, case.command));
        assert!(
            happy || case.happy_elsewhere.is_some(),
            "`{}`: no step runs it",
            case.command
        );
        assert!(
            runs(case.error.0, case.command),
            "`{}`'s error line",
            case.command
        );
    }
}

/// Each case's happy path, through `-c` and standard input, with and
/// without `--echo`: every line's output as the case says; the same
/// transcript both ways; without `--echo`, the same outputs without the
/// echoed lines.
#[test]
fn every_command_runs_its_happy_path_in_each_mode() {
    for case in CASES.iter().filter(|c| !c.steps.is_empty()) {
        let lines: Vec<&str> = case.steps.iter().map(|(line, _)| *line).collect();
        let o = session(Mode::Dash, true, &lines);
        assert!(o.status.success(), "`{}`: {}", case.command, stderr(&o));
        assert_eq!(stderr(&o), "", "`{}`", case.command);
        let transcript = stdout(&o);
        let outputs = per_command(&transcript, &lines);
        assert_eq!(outputs.len(), lines.len(), "every line ran: {transcript}");
        for ((line, out), got) in case.steps.iter().zip(&outputs) {
            out.check(line, got);
        }
        let o = session(Mode::Stdin, true, &lines);
        assert!(o.status.success(), "`{}`: {}", case.command, stderr(&o));
        assert_eq!(stdout(&o), transcript, "`{}`: stdin as -c", case.command);
        for mode in [Mode::Dash, Mode::Stdin] {
            let o = session(mode, false, &lines);
            assert!(
                o.status.success(),
                "`{}` {mode:?}: {}",
                case.command,
                stderr(&o)
            );
            assert_eq!(stdout(&o), outputs.concat(), "`{}` {mode:?}", case.command);
        }
    }
}

/// Each case's failing line, after its happy path, through `-c` and
/// standard input with `--echo`: exactly one error line on stderr,
/// nothing on stdout, a failed exit status, and the probes after it print
/// what they print without it.
#[test]
fn every_command_fails_with_one_error_line_and_changes_nothing() {
    for case in CASES {
        let (bad, message) = case.error;
        let setup: Vec<&str> = case.steps.iter().map(|(line, _)| *line).collect();
        let without = [&setup[..], &PROBES].concat();
        let with = [&setup[..], &[bad], &PROBES].concat();
        let o = session(Mode::Dash, true, &without);
        assert!(o.status.success(), "`{}`: {}", case.command, stderr(&o));
        let baseline = per_command(&stdout(&o), &without);
        for mode in [Mode::Dash, Mode::Stdin] {
            let o = session(mode, true, &with);
            assert!(!o.status.success(), "`{bad}` {mode:?} fails");
            assert_eq!(
                stderr(&o),
                format!("Error: {message}\n"),
                "`{bad}` {mode:?}"
            );
            let outputs = per_command(&stdout(&o), &with);
            assert_eq!(outputs.len(), with.len(), "every line ran");
            assert_eq!(
                outputs[setup.len()],
                "",
                "`{bad}` {mode:?}: nothing on stdout"
            );
            assert_eq!(
                outputs[setup.len() + 1..],
                baseline[setup.len()..],
                "`{bad}` {mode:?} changed something"
            );
        }
    }
}

/// A command with subcommands, typed alone or with one it lacks: the
/// usage line, or the list of its subcommands, from the table.
#[test]
fn commands_with_subcommands_name_them() {
    for command in COMMANDS.iter().filter(|c| !c.subcommands().is_empty()) {
        let names: Vec<&str> = command.subcommands().iter().map(|s| s.name).collect();
        for (line, message) in [
            (
                command.name.to_string(),
                format!("usage: {}", command.usage()),
            ),
            (
                format!("{} nosuch", command.name),
                format!(
                    "unknown {} subcommand `nosuch`; one of: {}",
                    command.name,
                    names.join(", ")
                ),
            ),
        ] {
            let o = run(&line);
            assert!(!o.status.success(), "`{line}` fails");
            assert_eq!(stderr(&o), format!("Error: {message}\n"), "`{line}`");
        }
    }
}

/// Every alias does what its command does: the case's lines with the
/// alias for the name print the same, and so does its failing line.
#[test]
fn aliases_run_their_command() {
    for command in COMMANDS.iter().filter(|c| !c.aliases.is_empty()) {
        let case = CASES.iter().find(|c| c.command == command.name).unwrap();
        let lines: Vec<&str> = case
            .steps
            .iter()
            .map(|(l, _)| *l)
            .chain([case.error.0])
            .collect();
        let expected = session(Mode::Dash, false, &lines);
        for alias in command.aliases {
            let aliased: Vec<String> = lines
                .iter()
                .map(|l| match l.strip_prefix(command.name) {
                    Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
                        format!("{alias}{rest}")
                    }
                    _ => l.to_string(),
                })
                .collect();
            assert_ne!(aliased, lines, "`{alias}` used");
            let aliased: Vec<&str> = aliased.iter().map(String::as_str).collect();
            let o = session(Mode::Dash, false, &aliased);
            assert_eq!(
                stdout(&o),
                stdout(&expected),
                "`{alias}` as `{}`",
                command.name
            );
            assert_eq!(
                stderr(&o),
                stderr(&expected),
                "`{alias}` as `{}`",
                command.name
            );
        }
    }
}

/// `quit`'s happy path: it prints nothing and nothing after it runs, in
/// `-c`, standard input and `--echo` alike.
#[test]
fn quit_ends_the_session() {
    let lines = ["help device_del", "quit", "info qom-tree"];
    let help = "device_del ID -- unplug, unrealize and remove a device (it finalizes at its last reference)\n";
    for mode in [Mode::Dash, Mode::Stdin] {
        for (echo, expected) in [
            (false, help.to_string()),
            (true, format!("(qom) help device_del\n{help}(qom) quit\n")),
        ] {
            let o = session(mode, echo, &lines);
            assert!(o.status.success(), "{mode:?}: {}", stderr(&o));
            assert_eq!(stdout(&o), expected, "{mode:?}, echo {echo}");
        }
    }
}

/// `qom-set`'s happy path. `device_add` and `-device` realize what they
/// create and realized devices lock their properties, so no object of the
/// binary's machine has a property `qom-set` can change; this runs the
/// same command table in process, on a device attached but not realized.
#[test]
fn qom_set_sets_a_property_before_realize() {
    let machine = Machine::create_at("virt", "/qom-set").unwrap();
    let device = qom_rt::new_by_name("xhci-pci").unwrap();
    qom_rt::container("/qom-set/peripheral")
        .unwrap()
        .add_child("usb0", device)
        .unwrap();
    let mut monitor = Monitor::new(machine);
    let mut run = |line: &str| monitor.execute(line);
    let path = "/qom-set/peripheral/usb0";
    assert_eq!(
        run(&format!("qom-set {path} num-ports 2")),
        Ok((String::new(), Flow::Continue))
    );
    assert_eq!(
        run(&format!("qom-get {path} num-ports")),
        Ok(("2\n".to_string(), Flow::Continue))
    );
    let err = run(&format!("qom-set {path} num-ports two")).unwrap_err();
    assert!(err.0.contains("does not accept `two`"), "{err}");
    assert_eq!(run(&format!("qom-get {path} num-ports")).unwrap().0, "2\n");
    // Computed properties read the device's state (not realized, not
    // plugged: no slot yet) and refuse every set, before realize too.
    assert_eq!(
        run(&format!("qom-get {path} realized")).unwrap().0,
        "false\n"
    );
    assert_eq!(run(&format!("qom-get {path} addr")).unwrap().0, "-1\n");
    let err = run(&format!("qom-set {path} realized on")).unwrap_err();
    assert!(
        err.0
            .contains("`/qom-set/peripheral/usb0`: property `realized` is read-only"),
        "{err}"
    );
}

#[test]
fn qom_tree_prints_the_default_machine() {
    let o = run("info qom-tree");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("/machine (virt-machine)\n"), "{out}");
    assert!(out.contains("\n    /uarts[0] (pl011)\n"), "{out}");
    assert!(out.contains("\n  /peripheral (container)\n"), "{out}");
}

#[test]
fn device_option_adds_before_commands() {
    let o = qom(&[
        "-device",
        "xhci-pci,id=usb1,num-ports=5",
        "-c",
        "info qom-tree /machine/peripheral; mmio read 0x10000004 4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "/peripheral (container)\n  /usb1 (xhci-pci)\n    /xhci-core (base-xhci)\n      /mem (memory-region)\n\
         0x9001040\n"
    );
}

#[test]
fn info_types_marks_abstract_types_and_parents() {
    let out = stdout(&run("info types device"));
    assert!(
        out.contains(
            "device (parent: object) [abstract] [interfaces: PropertyGuard, ComputedProperties]\n"
        ),
        "{out}"
    );
    let out = stdout(&run("info types"));
    assert!(
        out.contains(
            "xhci-pci (parent: pci-device) [interfaces: PropertyGuard, UsbHost, ComputedProperties] -- xHCI USB controller (qemu-xhci)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "gpex-pcihost (parent: device) [interfaces: PropertyGuard, ComputedProperties, MmioOps, HotplugHandler]"
        ),
        "{out}"
    );
}

#[test]
fn help_info_lists_every_subcommand_from_the_table() {
    let o = run("help info");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "info qom-tree [PATH] | types [FILTER] | mtree | qtree | pci | migrate | usb | status | registers | lifetime -- show machine state"
    );
    let subcommands: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        subcommands,
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
    assert!(lines[1].starts_with("  info qom-tree [PATH] -- "), "{out}");
    let out = stdout(&run("help info pci; help ?; help mmio release"));
    assert_eq!(
        out,
        "info pci -- the devices on the PCI bus with their IDs and BARs\n\
         help [CMD [SUBCMD]] -- list commands, or show one command's help and subcommands (also ?)\n\
         mmio release -- complete the access held last\n"
    );
}

#[test]
fn wrong_arguments_get_the_usage_line_from_the_table() {
    for (command, usage) in [
        ("qom-get /machine", "usage: qom-get PATH PROP"),
        (
            "info",
            "usage: info qom-tree [PATH] | types [FILTER] | mtree | qtree | pci | migrate | usb | status | registers | lifetime",
        ),
        ("mmio read 0x0", "usage: mmio read ADDR SIZE"),
        (
            "device_add",
            "usage: device_add TYPE,id=ID,prop=value,... | TYPE,help",
        ),
    ] {
        let o = run(command);
        assert!(!o.status.success(), "`{command}` fails");
        assert_eq!(stderr(&o), format!("Error: {usage}\n"), "`{command}`");
    }
}

#[test]
fn machine_help_lists_the_boards_with_a_description() {
    for flag in ["-M", "--machine", "-machine"] {
        let o = qom(&[flag, "help"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        assert!(out.starts_with("Supported machines are:\n"), "{out}");
        let virt = out
            .lines()
            .find(|l| l.starts_with("virt "))
            .expect("virt listed");
        assert!(
            virt.contains("PL011") && virt.ends_with("(default)"),
            "{virt}"
        );
    }
    let o = qom(&["-M", "vrit", "-c", "info pci"]);
    assert!(!o.status.success());
    assert_eq!(
        stderr(&o),
        "Error: unknown machine `vrit`; supported machines: pc, virt (`-M help` describes them)\n"
    );
    // Board properties, QEMU's syntax: the ECAM window follows highmem.
    let o = qom(&["-M", "virt,highmem=off", "-c", "mmio read 0x3f000000 4"]);
    assert_eq!(stdout(&o), "0x81b36\n", "{}", stderr(&o));
    let o = qom(&[
        "-M",
        "virt",
        "-c",
        "mmio read 0x4010000000 4; qom-get /machine highmem",
    ]);
    assert_eq!(stdout(&o), "0x81b36\ntrue\n", "{}", stderr(&o));
    let o = qom(&["-M", "virt,highmen=off", "-c", "info pci"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("highmen"), "{}", stderr(&o));
    let o = qom(&["-M", "virt", "-c", "info qom-tree"]);
    assert!(
        stdout(&o).starts_with("/machine (virt-machine)\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn device_help_option_prints_the_properties_and_stops() {
    let o = qom(&["-device", "xhci-pci,help", "-c", "info pci"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("xhci-pci options:\n"), "{out}");
    assert!(!out.contains("Bus"), "no command ran: {out}");
}

#[test]
fn double_commas_in_device_options_are_literal_commas() {
    let o = qom(&[
        "-device",
        "xhci-pci,id=usb,,0",
        "-c",
        "info qom-tree /machine/peripheral; device_del usb,0; info qom-tree /machine/peripheral",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "/peripheral (container)\n  /usb,0 (xhci-pci)\n    /xhci-core (base-xhci)\n      /mem (memory-region)\n\
         /peripheral (container)\n"
    );
    let o = run("device_add xhci-pci,id=u,num-ports=4,,5");
    assert!(
        stderr(&o).contains("property `num-ports` does not accept `4,5`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_backslash_quotes_a_semicolon_in_dash_c() {
    let o = run(r"device_add xhci-pci,id=a\;b; qom-get /machine/peripheral/a\;b num-ports");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "4\n");
    // `\\` is a backslash, so the `;` after it separates.
    let o = run(r"info qom-tree /machine/peripheral\\; info pci");
    assert!(
        stderr(&o).contains(r"no object at path `/machine/peripheral\`"),
        "{}",
        stderr(&o)
    );
}

/// Bad input the cases above do not cover (a mistyped command or type, a
/// value the property's type refuses): one error line, a non-zero exit
/// status, and the state unchanged (checked by the command after it).
#[test]
fn bad_input_is_one_error_line_and_changes_nothing() {
    let cases: &[(&str, &str)] = &[
        ("devcie_add xhci-pci", "did you mean `device_add`"),
        (
            "device_add xhci-pic,id=u",
            "unknown type `xhci-pic`; did you mean `xhci-pci`",
        ),
        (
            "device_add xhci-pci,id=u,num-ports=many",
            "property `num-ports` does not accept `many`",
        ),
        (
            "qom-get /machine/nowhere type",
            "no object at path `/machine/nowhere`",
        ),
    ];
    for (command, message) in cases {
        let o = run(&format!("{command}; info qom-tree /machine/peripheral"));
        assert!(!o.status.success(), "`{command}` should fail");
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "one line for `{command}`: {err}");
        assert!(
            err.starts_with("Error: ") && err.contains(message),
            "`{command}`: {err}"
        );
        assert_eq!(
            stdout(&o),
            "/peripheral (container)\n",
            "`{command}` changed nothing"
        );
    }
}

#[test]
fn duplicate_ids_and_non_hotpluggable_devices_are_refused() {
    let o = run(
        "device_add xhci-pci,id=u; device_add xhci-pci,id=u; info qom-tree /machine/peripheral",
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("duplicate id `u`"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "/peripheral (container)\n  /u (xhci-pci)\n    /xhci-core (base-xhci)\n      /mem (memory-region)\n");
    let o = run("device_add piix3,id=sb; device_del sb; info qom-tree /machine/peripheral");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`sb` (piix3) is not hot-pluggable"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("/sb (piix3)"));
}

/// The seed scenario's transcript, and the book's copy of it
/// (`book/src/hot-unplug.md`), are what the binary prints for the script.
#[test]
fn the_seed_example_script_matches_its_transcript() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let read = |file: &str| std::fs::read_to_string(format!("{root}/{file}")).unwrap();
    let expected_file = format!("{root}/examples/seed-hotunplug.expected");
    let o = script_with(&["--echo"], &read("examples/seed-hotunplug.qom"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let expected = read("examples/seed-hotunplug.expected");
    if out != expected && std::env::var_os("BLESS").is_some() {
        std::fs::write(expected_file, &out).unwrap();
        return;
    }
    assert_eq!(
        out, expected,
        "rerun with BLESS=1 to update after reading the diff"
    );
    assert!(
        read("book/src/hot-unplug.md").contains(&format!("```text\n{expected}```\n")),
        "book/src/hot-unplug.md quotes examples/seed-hotunplug.expected as it is"
    );
}

#[test]
fn graph_prints_dot_and_writes_it_or_svg_with_distinct_edges() {
    let out = stdout(&run("device_add piix3,id=sb; graph /machine/peripheral/sb"));
    assert!(out.starts_with("digraph qom {"), "{out}");
    assert!(out.contains("[class=owned"), "the owned companion: {out}");
    assert!(
        out.contains("[class=storage"),
        "embedded regions hold storage: {out}"
    );
    let dir = std::env::temp_dir().join(format!("qom-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dot = dir.join("sb.dot");
    let o = run(&format!(
        "device_add piix3,id=sb; graph /machine/peripheral/sb --dot {}",
        dot.display()
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("wrote {} bytes to {}\n", out.len(), dot.display())
    );
    assert_eq!(
        std::fs::read_to_string(&dot).unwrap(),
        out,
        "the DOT printed"
    );
    let svg = dir.join("m.svg");
    let o = run(&format!(
        "device_add xhci-pci,id=usb0; graph /machine --svg {}",
        svg.display()
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg"), "an SVG document");
    // layout-rs writes colours as RGBA hex: black embedded edges, orange
    // dashed storage edges, blue dynamic ones.
    for (colour, kind) in [
        ("#000000ff", "embedded"),
        ("#ffa500ff", "storage"),
        ("#0000ffff", "dynamic"),
    ] {
        assert!(text.contains(colour), "{kind} edges drawn in {colour}");
    }
    assert!(text.contains("stroke-dasharray"), "dashed storage edges");
    let _ = std::fs::remove_dir_all(dir);
}

/// Every register of UART 0, the first SP804 and the xHCI (DCBAAP,
/// CONFIG, IMAN, IMOD, ERDP) a guest reads without changing them.
const MIGRATED_READS: &str = "\
    mmio read 0x09000004 4; mmio read 0x09000018 4; mmio read 0x09000020 4; \
    mmio read 0x09000024 4; mmio read 0x09000028 4; mmio read 0x0900002c 4; \
    mmio read 0x09000030 4; mmio read 0x09000034 4; mmio read 0x09000038 4; \
    mmio read 0x0900003c 4; mmio read 0x09000040 4; mmio read 0x09000048 4; \
    mmio read 0x0c000000 4; mmio read 0x0c000008 4; mmio read 0x0c000010 4; \
    mmio read 0x0c000014 4; mmio read 0x0c000018 4; \
    mmio read 0x10000070 4; mmio read 0x10000078 4; mmio read 0x10001020 4; \
    mmio read 0x10001024 4; mmio read 0x10001038 4";

/// `migrate tcp:` / `unix:` to a second `qom` started with `-incoming` on
/// that address: the destination reads what the source's guest would.
/// Then a destination with another machine shape refuses the stream: the
/// source reports the destination's error and carries on, and the
/// destination stops without having changed.
#[test]
fn migrate_over_tcp_and_unix_between_two_processes() {
    let pid = std::process::id();
    let port = 20_000 + pid % 20_000;
    let socket = std::env::temp_dir().join(format!("qom-migrate-{pid}.sock"));
    let writes = "mmio write 0x09000024 4 0x27; mmio write 0x09000028 4 0x4; \
                  mmio write 0x0900002c 4 0x70; mmio write 0x09000038 4 0x50; \
                  mmio write 0x0c000000 4 0x1234; mmio write 0x0c000008 4 0xa2; \
                  mmio write 0x10000070 4 0x12345640; mmio write 0x10000078 4 0x8; \
                  mmio write 0x10001020 4 0x2; mmio write 0x10001024 4 0xa0; \
                  mmio write 0x10001038 4 0x456780";
    for uri in [
        format!("tcp:127.0.0.1:{port}"),
        format!("unix:{}", socket.display()),
    ] {
        let destination = Command::new(env!("CARGO_BIN_EXE_qom"))
            .args(["-device", "xhci-pci,id=usb0", "-incoming", &uri])
            .args(["-c", MIGRATED_READS])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qom runs");
        let script = format!("{writes}; {MIGRATED_READS}; migrate {uri}; info migrate");
        let source = qom(&["-device", "xhci-pci,id=usb0", "-c", &script]);
        let destination = destination.wait_with_output().unwrap();
        assert!(source.status.success(), "{uri}: {}", stderr(&source));
        assert!(
            destination.status.success(),
            "{uri}: {}",
            stderr(&destination)
        );
        let (source_out, destination_out) = (stdout(&source), stdout(&destination));
        let reads = MIGRATED_READS.split(';').count();
        let source_reads: Vec<&str> = source_out.lines().take(reads).collect();
        assert_eq!(
            destination_out.lines().collect::<Vec<_>>(),
            source_reads,
            "{uri}"
        );
        assert!(source_reads.contains(&"0x12345640"), "{source_out}");
        assert!(source_reads.contains(&"0x1234"), "{source_out}");
        assert!(
            source_out.contains("Migration status: completed"),
            "{source_out}"
        );
    }

    // A destination without the xHCI refuses; the source keeps running.
    let uri = format!("unix:{}", socket.display());
    let destination = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(["-incoming", &uri, "-c", "mmio read 0x09000024 4"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qom runs");
    let script = format!(
        "mmio write 0x09000024 4 0x27; migrate {uri}; mmio read 0x09000024 4; info migrate"
    );
    let source = qom(&["-device", "xhci-pci,id=usb0", "-c", &script]);
    assert!(!source.status.success(), "the migration failed");
    let destination = destination.wait_with_output().unwrap();
    let refusal = concat!(
        "the machine's shape differs from the stream's: the stream has ",
        "`/machine/peripheral/usb0` (xhci-pci), this machine has nothing there; ",
        "start the destination with the same devices as the source"
    );
    assert_eq!(stdout(&destination), "", "nothing ran on the destination");
    assert_eq!(
        stderr(&destination),
        format!("Error: -incoming {uri}: {refusal}\n")
    );
    let out = stdout(&source) + &stderr(&source);
    assert!(
        out.contains(&format!("the destination refused the stream: {refusal}")),
        "{out}"
    );
    assert!(out.contains("0x27"), "the source still runs: {out}");
    assert!(out.contains("Migration status: failed"), "{out}");
    let _ = std::fs::remove_file(&socket);
}

/// `-incoming file:PATH` loads a snapshot `migrate` wrote before the first
/// command, into a machine started with the same devices; a snapshot that
/// does not fit stops `qom` with one error line.
#[test]
fn incoming_loads_a_snapshot_before_the_first_command() {
    let snap = std::env::temp_dir().join(format!("qom-incoming-{}.snap", std::process::id()));
    let uri = format!("file:{}", snap.display());
    let o = qom(&[
        "-device",
        "xhci-pci,id=usb0",
        "-c",
        &format!("mmio write 0x10000070 4 0x12345640; migrate \"{uri}\""),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = "mmio read 0x10000070 4";
    let o = qom(&["-device", "xhci-pci,id=usb0", "-incoming", &uri, "-c", read]);
    assert!(o.status.success(), "{}", stderr(&o));
    // DCBAAP, the xHCI's own state, behind BAR 0 (at 0x10000000, enabled
    // by its configuration space, which migrated too).
    assert_eq!(stdout(&o), "0x12345640\n");

    let o = qom(&["-incoming", &uri, "-c", read]);
    assert!(!o.status.success());
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!(
            "Error: -incoming {uri}: the machine's shape differs from the stream's: the stream has \
             `/machine/peripheral/usb0` (xhci-pci), this machine has nothing there; start the \
             destination with the same devices as the source\n"
        )
    );

    let mut bytes = std::fs::read(&snap).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&snap, bytes).unwrap();
    let o = qom(&["-device", "xhci-pci,id=usb0", "-incoming", &uri, "-c", read]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("checksum mismatch in the whole stream"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_file(&snap);
}

#[test]
fn sendkey_reaches_the_usb_keyboard() {
    let options = qom_devices::machine::MachineOptions {
        firmware: Some(qom_devices::machine::Firmware {
            path: "test.bin".into(),
            bytes: vec![0; 0x1_0000],
        }),
        ..Default::default()
    };
    let machine = Machine::create_with("pc", "/sendkey", &options).unwrap();
    let mut monitor = Monitor::new(machine);
    let mut run = |line: &str| monitor.execute(line).map(|(out, _)| out);
    assert_eq!(run("device_add xhci-pci,id=usb0"), Ok(String::new()));
    assert_eq!(
        run("device_add usb-kbd,bus=usb0.0,id=kbd0"),
        Ok(String::new())
    );
    assert_eq!(run("sendkey ctrl-alt-f1 100"), Ok(String::new()));
    assert_eq!(
        run("info usb"),
        Ok("  Device 0.0, Port 1, Speed 480 Mb/s, Product QEMU USB Keyboard, ID: kbd0\n".into()),
        "address 0: no guest enumerated it"
    );
    let kbd = qom_rt::resolve_path("/sendkey/peripheral/kbd0").unwrap();
    let kbd = kbd.downcast::<qom_devices::usb::hid::UsbKbd>().unwrap();
    assert_eq!(kbd.queued(), 2, "press and release");
    let err = run("sendkey ctrl-nokey").unwrap_err();
    assert!(err.0.contains("unknown key `nokey`"), "{err}");
    assert_eq!(kbd.queued(), 2, "nothing queued for a bad combination");
}

//! The `qom` binary driven as a user would: `-c`, scripts on standard
//! input, `-device`, every command's happy path and every bad-input class
//! (one error line on stderr, non-zero exit, nothing changed).
//!
//! Not under Miri: it cannot spawn processes. The device library's side
//! of the same commands runs in process under Miri through
//! `devices/tests/hotplug.rs`, and the fuzz target `monitor_command`
//! drives `Monitor::execute`.
#![cfg(not(miri))]

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

fn script(text: &str) -> Output {
    script_with(&[], text)
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
fn device_add_then_inspect_and_delete() {
    let o = run("device_add xhci-pci,id=usb0,num-ports=8; qom-get /machine/peripheral/usb0 num-ports; \
                 qom-list /machine/peripheral/usb0; info pci; device_del usb0; info qom-tree /machine/peripheral");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("8\n"), "{out}");
    assert!(out.contains("xhci (child<base-xhci>)\n"), "{out}");
    assert!(out.contains("num-ports (uint32)\n"), "{out}");
    assert!(
        out.contains("USB controller: PCI device 1b36:000d"),
        "{out}"
    );
    assert!(out.contains("BAR0: 64 bit memory at 0x10000000"), "{out}");
    assert!(out.ends_with("/peripheral (container)\n"), "deleted: {out}");
}

#[test]
fn device_option_adds_before_commands() {
    let o = qom(&[
        "-device",
        "xhci-pci,id=usb1",
        "-c",
        "info qom-tree /machine/peripheral",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("/usb1 (xhci-pci)"), "{}", stdout(&o));
}

#[test]
fn device_help_lists_properties_with_types_defaults_and_docs() {
    let o = run("device_add xhci-pci,help");
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.starts_with("xhci-pci options:\n"), "{out}");
    assert!(out.contains("num-ports=<uint32>"), "{out}");
    assert!(out.contains("(default: 4)"), "{out}");
    assert!(out.contains("addr=<pci-devfn>"), "{out}");
}

#[test]
fn info_types_marks_abstract_types_and_parents() {
    let out = stdout(&run("info types device"));
    assert!(
        out.contains("device (parent: object) [abstract] [interfaces: PropertyGuard]\n"),
        "{out}"
    );
    let out = stdout(&run("info types"));
    assert!(
        out.contains(
            "xhci-pci (parent: pci-device) [interfaces: PropertyGuard] -- xHCI USB controller (qemu-xhci)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "gpex-pcihost (parent: device) [interfaces: PropertyGuard, MmioOps, HotplugHandler]"
        ),
        "{out}"
    );
}

#[test]
fn guest_accesses_mtree_and_clock() {
    let o = run(
        "mmio read 0x09000fe0 4; mmio write 0x09000030 4 0x301; mmio write 0x09000000 4 0x41; \
                 info mtree; clock_step 1000",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("0x11\n"), "PL011 PeriphID0: {out}");
    assert!(out.contains("A"), "UART 0 writes to stdout: {out}");
    assert!(
        out.contains("0000000009000000-0000000009000fff (prio 0, i/o): pl011"),
        "{out}"
    );
    assert!(
        out.contains("advanced 2 clocked devices by 1000 ns"),
        "{out}"
    );
}

#[test]
fn scripts_come_from_standard_input() {
    let o = script("help device_del\nquit\ninfo qom-tree\n");
    assert!(o.status.success());
    assert_eq!(stdout(&o), "device_del ID -- unplug, unrealize and remove a device (it finalizes at its last reference)\n");
}

#[test]
fn help_info_lists_every_subcommand_from_the_table() {
    let o = run("help info");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "info qom-tree [PATH] | types [FILTER] | mtree | pci | status | registers | lifetime -- show machine state"
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
            "pci",
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
        ("info types a b", "usage: info types [FILTER]"),
        (
            "info",
            "usage: info qom-tree [PATH] | types [FILTER] | mtree | pci | status | registers | lifetime",
        ),
        ("mmio read 0x0", "usage: mmio read ADDR SIZE"),
        (
            "device_add",
            "usage: device_add TYPE,id=ID,prop=value,... | TYPE,help",
        ),
        ("quit now", "usage: quit"),
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
        "/peripheral (container)\n  /usb,0 (xhci-pci)\n    /xhci (base-xhci)\n      /mem (memory-region)\n\
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

/// Each bad input: one error line, a non-zero exit status, and the state
/// unchanged (checked by the command after it).
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
            "device_add xhci-pci,id=u,num-ports=99",
            "num-ports must be between 1 and 15",
        ),
        (
            "qom-get /machine/nowhere type",
            "no object at path `/machine/nowhere`",
        ),
        (
            "qom-get /machine/soc/uarts[0] nosuch",
            "has no property `nosuch`",
        ),
        ("device_del usb9", "no device with id `usb9`"),
        ("mmio read 0x1000 3", "must be 1, 2, 4 or 8"),
        ("info nonsense", "unknown info subcommand"),
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
    assert_eq!(stdout(&o), "/peripheral (container)\n  /u (xhci-pci)\n    /xhci (base-xhci)\n      /mem (memory-region)\n");
    let o = run("device_add piix3,id=sb; device_del sb; info qom-tree /machine/peripheral");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`sb` (piix3) is not hot-pluggable"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("/sb (piix3)"));
}

#[test]
fn the_seed_example_script_matches_its_transcript() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let text = std::fs::read_to_string(format!("{root}/seed-hotunplug.qom")).unwrap();
    let expected = std::fs::read_to_string(format!("{root}/seed-hotunplug.expected")).unwrap();
    let o = script_with(&["--echo"], &text);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    if out != expected && std::env::var_os("BLESS").is_some() {
        std::fs::write(format!("{root}/seed-hotunplug.expected"), &out).unwrap();
        return;
    }
    assert_eq!(
        out, expected,
        "rerun with BLESS=1 to update after reading the diff"
    );
}

#[test]
fn graph_prints_dot_and_writes_svg_with_distinct_edges() {
    let out = stdout(&run("device_add piix3,id=sb; graph /machine/peripheral/sb"));
    assert!(out.starts_with("digraph qom {"), "{out}");
    assert!(out.contains("[class=owned"), "the owned companion: {out}");
    assert!(
        out.contains("[class=storage"),
        "embedded regions hold storage: {out}"
    );
    let dir = std::env::temp_dir().join(format!("qom-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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

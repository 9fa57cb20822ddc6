//! The interactive prompt, through a pseudo-terminal as a person uses it:
//! the banner and the `(qom) ` prompt appear, commands run, Tab completes
//! a command name, a device id after `device_del` and a property after
//! `qom-get PATH `, the up arrow recalls the previous line, and Ctrl-D
//! leaves with exit status 0.
//!
//! One test in its own binary: the pseudo-terminal's child is forked, and
//! no other test thread may be running then.
#![cfg(all(unix, not(miri)))]

use rexpect::process::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};
use std::process::Command;

/// How long any expected output may take.
const TIMEOUT_MS: u64 = 20_000;

const UP: &str = "\x1b[A";
const TAB: &str = "\t";
const ENTER: &str = "\r";

fn start() -> PtySession {
    let mut qom = Command::new(env!("CARGO_BIN_EXE_qom"));
    // A terminal rustyline edits on (a `dumb` one gets no line editing).
    qom.env("TERM", "xterm");
    let options = Options::new()
        .timeout_ms(Some(TIMEOUT_MS))
        .strip_ansi_escape_codes(true);
    spawn_with_options(qom, options).expect("qom starts in a pseudo-terminal")
}

/// Waits for a fresh prompt: rustyline starts each line with `\r`, the
/// (erased) prompt, after the newline that ended the previous line or
/// its output. A redraw of the line being edited (after Tab) shows the
/// prompt too, but never right after a newline. Typing before the fresh
/// prompt would be lost: rustyline drops input that arrives before it
/// reads a new line.
fn prompt(p: &mut PtySession) {
    if let Err(e) = p.exp_regex(r"\n\r?\(qom\) ") {
        panic!("no fresh prompt: {e}");
    }
}

/// Types `keys` and waits for `shown` on the terminal.
fn type_keys(p: &mut PtySession, keys: &str, shown: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
    if let Err(e) = p.exp_string(shown) {
        panic!("after typing {keys:?}, no {shown:?}: {e}");
    }
}

/// Types a whole line, waits for `output` (if any, without its last line
/// end, which ends before the next prompt), then for that prompt.
fn line(p: &mut PtySession, keys: &str, output: &str) {
    type_keys(p, &format!("{keys}{ENTER}"), output);
    prompt(p);
}

#[test]
fn the_prompt_runs_completes_recalls_and_leaves_on_ctrl_d() {
    let mut p = start();
    p.exp_string("qom monitor on machine `virt` - type `help` for commands")
        .expect("the banner");
    prompt(&mut p);

    // Commands run and print their output (HCSPARAMS1: MaxPorts 13).
    line(&mut p, "device_add xhci-pci,id=usb0,num-ports=11,p2=2", "");
    line(&mut p, "xp 0x10000004", "0000000010000004: 0xd001040");

    // A property after `qom-get PATH `: `n` completes to `num-ports`.
    let get = "qom-get /machine/peripheral/usb0 num-ports";
    type_keys(&mut p, "qom-get /machine/peripheral/usb0 n", " n");
    type_keys(&mut p, TAB, &format!("(qom) {get}"));
    line(&mut p, "", "\r\n11");
    // The up arrow recalls that line; it runs again.
    type_keys(&mut p, UP, &format!("(qom) {get}"));
    line(&mut p, "", "\r\n11");

    // A command name, then the id of a plugged device: `device_d` and
    // `us` complete to `device_del usb0`, which unplugs it.
    type_keys(&mut p, &format!("device_d{TAB}"), "(qom) device_del");
    type_keys(&mut p, &format!(" us{TAB}"), "(qom) device_del usb0");
    line(&mut p, "", "");
    line(&mut p, "xp 0x10000004", "0000000010000004: 0xffffffff");

    // Ctrl-D at an empty line leaves cleanly.
    p.send_control('d').unwrap();
    p.exp_eof().expect("qom exits");
    match p.process().wait() {
        Ok(WaitStatus::Exited(_, 0)) => {}
        other => panic!("qom did not exit with status 0: {other:?}"),
    }
}

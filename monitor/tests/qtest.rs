//! The qtest protocol (`-qtest stdio`, `-qtest unix:PATH`) as a test
//! client sees it: replies in QEMU's format, interrupt notifications, and
//! `FAIL` (never a crash) on malformed input. The comparison with QEMU
//! itself is `tests/qtest/fidelity.py` (`.ci/fidelity.sh`).
//!
//! These tests spawn `qom` and open sockets: not under Miri.
#![cfg(not(miri))]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Runs `qom -M virt -qtest stdio` on `script`; its output lines.
fn qtest(script: &str) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(["-M", "virt", "-serial", "null", "-qtest", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qom starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script written");
    let out = child.wait_with_output().expect("qom ends");
    assert!(
        out.status.success(),
        "qom failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn reads_and_writes_answer_in_qemus_format() {
    let out = qtest(
        "readl 0x09000fe0\nreadb 0x09000fe1\nreadw 0x09000030\nreadq 0x09000fe0\n\
         writel 0x09000038 0x10\nreadl 0x09000038\nread 0x09000fe0 8\n\
         write 0x09000024 2 0x3412\nreadl 0x09000024\nmemset 0x09000028 1 0x15\n\
         readl 0x09000028\nendianness\n",
    );
    assert_eq!(
        out,
        [
            "OK 0x0000000000000011",
            // A narrow read goes to the register at offset >> 2, as in QEMU.
            "OK 0x0000000000000011",
            "OK 0x0000000000000300",
            // 8 bytes: two 4-byte reads, little endian.
            "OK 0x0000001000000011",
            "OK",
            "OK 0x0000000000000010",
            "OK 0x1100000010000000",
            "OK",
            "OK 0x0000000000001234",
            "OK",
            "OK 0x0000000000000015",
            "OK little",
        ]
    );
}

#[test]
fn transmitted_bytes_stay_out_of_the_stdio_protocol_stream() {
    let out = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(["-M", "virt", "-qtest", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(b"writel 0x09000000 0x41\nreadl 0x09000fe0\n")?;
            }
            child.wait_with_output()
        })
        .expect("qom runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OK\nOK 0x0000000000000011\n",
        "no `A` from the UART in the replies"
    );
}

#[test]
fn clock_commands_answer_the_virtual_time() {
    let out = qtest("clock_step 100\nclock_step 0x10\nclock_set 50\nclock_set 1000\nclock_step\n");
    assert_eq!(out[..4], ["OK 100", "OK 116", "OK 116", "OK 1000"]);
    assert!(out[4].starts_with("FAIL clock_step without NS"), "{out:?}");
}

#[test]
fn malformed_input_fails_without_ending_the_server() {
    let out = qtest(
        "bogus\nreadl\nreadl 0xzz\nwritel 0x09000000\nread 0x09000000 0\nwrite 0x0 1 0\n\
         inb 0x60\nirq_intercept_out /no/such\nirq_intercept_in /machine/soc/uarts[0]\n\
         read 0x0 0xffffffffffff\nreadl 0x09000fe0\n",
    );
    assert_eq!(out[0], "FAIL Unknown command 'bogus'");
    assert_eq!(out[1], "FAIL readl: missing address");
    assert_eq!(out[2], "FAIL readl: address `0xzz` is not a number");
    assert_eq!(out[3], "FAIL writel: missing value");
    assert!(out[4].starts_with("FAIL read: length 0"), "{out:?}");
    assert_eq!(out[5], "ERR invalid argument size");
    assert!(
        out[6].starts_with("FAIL inb: machine `virt` has no port-I/O space"),
        "{out:?}"
    );
    assert_eq!(out[7], "FAIL Unknown device");
    assert!(out[8].starts_with("FAIL irq_intercept_in"), "{out:?}");
    assert!(out[9].contains("above qom's limit"), "{out:?}");
    assert_eq!(out[10], "OK 0x0000000000000011", "still serving");
}

#[test]
fn intercepted_interrupts_are_reported_before_the_reply() {
    let out = qtest(
        "irq_intercept_out /machine/soc/uarts[0]\nwritel 0x09000038 0x20\n\
         writel 0x09000000 0x41\nwritel 0x09000044 0x20\nirq_intercept_out /machine/soc/uarts[0]\n\
         irq_intercept_out /machine/soc/timers[0]\n",
    );
    assert_eq!(
        out,
        [
            "OK",
            // IMSC.TX: enabled, nothing raw yet.
            "OK",
            // The DR write sets RIS.TX: the line rises, before the reply.
            "IRQ raise 0",
            "OK",
            // ICR clears it.
            "IRQ lower 0",
            "OK",
            "OK",
            "FAIL IRQ intercept already enabled",
        ]
    );
}

#[test]
fn unix_endpoint_connects_to_the_test_socket() {
    let path = std::env::temp_dir().join(format!("qom-qtest-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let mut child = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(["-M", "virt", "-accel", "qtest", "-serial", "null", "-qtest"])
        .arg(format!("unix:{}", path.display()))
        .spawn()
        .expect("qom starts");
    let (stream, _) = listener.accept().expect("qom connects");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    writer.write_all(b"readl 0x09000fe4\n").expect("send");
    let mut line = String::new();
    reader.read_line(&mut line).expect("reply");
    assert_eq!(line, "OK 0x0000000000000010\n");
    drop(writer);
    drop(reader);
    assert!(child.wait().expect("qom ends").success());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_endpoints_and_combinations_are_refused() {
    for args in [
        &["-qtest", "tcp:localhost:1"][..],
        &["-qtest", "stdio", "-c", "info pci"],
        &["-accel", "qtest"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_qom"))
            .args(["-M", "virt"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("qom runs");
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("Error: "),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

//! Migration of a running KVM guest through the `qom` binary: the
//! `counter` test guest prints 1, 2, 3, ... on isa-debugcon (and checks
//! 1,024 pages of RAM it keeps writing); the source's lines followed by
//! the destination's must count on with no gap and no repeat, after a
//! snapshot restored in a fresh process and after a live migration to a
//! second process. Skipped, saying why, without /dev/kvm or binutils.
#![cfg(not(miri))]

use qom_test_support::guests;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why this test cannot run here (printed), or the counter guest.
fn counter_guest(test: &str) -> Option<PathBuf> {
    if let Err(e) = qom_vmm::kvm_available() {
        eprintln!("{test} skipped: {e}");
        return None;
    }
    match guests::path("counter") {
        Ok(path) => Some(path),
        Err(e) => {
            eprintln!("{test} skipped: {e}");
            None
        }
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("qom-mig-{}-{name}", std::process::id()))
}

/// `qom -M pc -accel kvm -m 128 -bios counter` with its debugcon in
/// `log`, and `extra` options; stdin piped for the script.
fn spawn(guest: &Path, log: &Path, extra: &[&str]) -> Child {
    let debugcon = format!("file:{}", log.display());
    let mut args = vec![
        "-M",
        "pc",
        "-accel",
        "kvm",
        "-m",
        "128",
        "-bios",
        guest.to_str().unwrap(),
        "-debugcon",
        &debugcon,
    ];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_qom"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qom runs")
}

/// The counts in a debugcon log: complete lines only (the last may be
/// cut by a migration: its rest is on the destination).
fn read_log(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until `log` holds at least `lines` newlines.
fn wait_lines(log: &Path, lines: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if read_log(log).matches('\n').count() >= lines {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Checks that `text` counts 1, 2, 3, ... in hex, a count a line, and
/// returns the last count.
fn check_counting(text: &str) -> u32 {
    assert!(
        !text.contains("BAD"),
        "the guest found a page it wrote lost:\n{text}"
    );
    let mut expected = 1u32;
    for line in text.lines() {
        let count = u32::from_str_radix(line, 16)
            .unwrap_or_else(|_| panic!("`{line}` is not a count (after {:x})", expected - 1));
        assert_eq!(
            count,
            expected,
            "a gap or a repeat after {:x}",
            expected - 1
        );
        expected += 1;
    }
    expected - 1
}

/// Stops a destination: `quit` on its stdin, then its output.
fn quit(mut child: Child) -> (String, String) {
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"quit\n");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `script` on a source until it ends; returns stdout, after
/// checking that it succeeded.
fn run_source(mut source: Child, script: &str) -> String {
    let mut stdin = source.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    let out = source.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "source: {stderr}");
    assert!(stderr.is_empty(), "source: {stderr}");
    stdout
}

/// The value of `name: N ...` in `info migrate`'s text.
fn field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in {info}"))
}

#[test]
fn a_counting_guest_counts_on_after_a_snapshot_restored_in_a_fresh_process() {
    let Some(guest) = counter_guest("snapshot of a running guest") else {
        return;
    };
    let (src_log, dst_log, snap) = (temp("snap-src.log"), temp("snap-dst.log"), temp("vm.snap"));
    let source = spawn(&guest, &src_log, &[]);
    let out = run_source(
        source,
        &format!(
            "wait debugcon \"00000100\" 30\nmigrate \"file:{}\"\ninfo status\ninfo migrate\n",
            snap.display()
        ),
    );
    assert!(
        out.starts_with("VM status: paused (postmigrate)\nMigration status: completed\n"),
        "{out}"
    );
    let before = read_log(&src_log);
    let saved_at = check_counting(before.trim_end_matches(|c| c != '\n'));
    assert!(saved_at >= 0x100, "{saved_at:x}");
    // 128 MiB, mostly zeros: zero pages cost a byte.
    let size = std::fs::metadata(&snap).unwrap().len();
    assert!(size < 16 << 20, "a {size}-byte snapshot");
    assert_eq!(field(&out, "total ram"), 128 * 1024);

    let destination = spawn(
        &guest,
        &dst_log,
        &["-incoming", &format!("file:{}", snap.display())],
    );
    let counted = wait_lines(&dst_log, 300, Duration::from_secs(30));
    let (_, stderr) = quit(destination);
    assert!(
        counted,
        "the destination did not count on: {stderr}\n{}",
        read_log(&dst_log)
    );
    let after = read_log(&dst_log);
    let last = check_counting(&(before + &after));
    assert!(last >= saved_at + 300);
    for path in [&src_log, &dst_log, &snap] {
        let _ = std::fs::remove_file(path);
    }
}

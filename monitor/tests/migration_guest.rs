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
    let all = before + &after;
    let last = check_counting(all.trim_end_matches(|c| c != '\n'));
    assert!(last >= saved_at + 300);
    for path in [&src_log, &dst_log, &snap] {
        let _ = std::fs::remove_file(path);
    }
}

/// A free TCP port on the loopback (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Live migration to a second process over `uri`; the counts go on.
fn live_migration(test: &str, uri: &str, tag: &str) {
    let Some(guest) = counter_guest(test) else {
        return;
    };
    let (src_log, dst_log) = (
        temp(&format!("{tag}-src.log")),
        temp(&format!("{tag}-dst.log")),
    );
    let destination = spawn(&guest, &dst_log, &["-incoming", uri]);
    let source = spawn(&guest, &src_log, &[]);
    // HMP `migrate` waits for the end of the migration.
    let out = run_source(
        source,
        &format!("wait debugcon \"00000100\" 30\nmigrate {uri}\ninfo status\ninfo migrate\n"),
    );
    assert!(
        out.starts_with("VM status: paused (postmigrate)\nMigration status: completed\n"),
        "{out}"
    );
    assert!(field(&out, "dirty sync count") >= 1, "{out}");
    assert_eq!(field(&out, "total ram"), 128 * 1024);
    let downtime = field(&out, "downtime");
    eprintln!("{test}: {out}");
    let before = read_log(&src_log);
    let moved_at = check_counting(before.trim_end_matches(|c| c != '\n'));
    let counted = wait_lines(&dst_log, 300, Duration::from_secs(30));
    let (_, stderr) = quit(destination);
    assert!(
        counted,
        "the destination did not count on: {stderr}\n{}",
        read_log(&dst_log)
    );
    let all = before + &read_log(&dst_log);
    let last = check_counting(all.trim_end_matches(|c| c != '\n'));
    assert!(last >= moved_at + 300);
    assert!(downtime < 5000, "{downtime} ms");
    for path in [&src_log, &dst_log] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn a_counting_guest_counts_on_after_a_live_migration_over_unix() {
    let socket = temp("live.sock");
    let uri = format!("unix:{}", socket.display());
    live_migration("live migration over unix:", &uri, "unix");
}

#[test]
fn a_counting_guest_counts_on_after_a_live_migration_over_tcp() {
    let uri = format!("tcp:127.0.0.1:{}", free_port());
    live_migration("live migration over tcp:", &uri, "tcp");
}

#[test]
fn a_refused_stream_leaves_the_source_running() {
    let Some(guest) = counter_guest("refused live migration") else {
        return;
    };
    let (src_log, dst_log) = (temp("refused-src.log"), temp("refused-dst.log"));
    let socket = temp("refused.sock");
    let uri = format!("unix:{}", socket.display());
    // Another RAM size: the destination refuses the header.
    let debugcon = format!("file:{}", dst_log.display());
    let destination = Command::new(env!("CARGO_BIN_EXE_qom"))
        .args([
            "-M",
            "pc",
            "-accel",
            "kvm",
            "-m",
            "64",
            "-bios",
            guest.to_str().unwrap(),
        ])
        .args(["-debugcon", &debugcon, "-incoming", &uri])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let source = spawn(&guest, &src_log, &[]);
    let mut stdin_script = format!("wait debugcon \"00000080\" 30\nmigrate {uri}\ninfo status\n");
    stdin_script.push_str("wait debugcon \"00000200\" 30\ninfo migrate\n");
    let mut source = source;
    let mut stdin = source.stdin.take().unwrap();
    stdin.write_all(stdin_script.as_bytes()).unwrap();
    drop(stdin);
    let out = source.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(stderr.contains("the destination refused the stream: the stream's guest RAM is pc.ram (128M), this machine's is pc.ram (64M): start the destination with the same -m"), "{stderr}");
    assert!(
        stdout.starts_with("VM status: running\nMigration status: failed\n"),
        "{stdout}"
    );
    check_counting(read_log(&src_log).trim_end_matches(|c| c != '\n'));
    let dst = destination.wait_with_output().unwrap();
    assert!(!dst.status.success());
    assert!(String::from_utf8_lossy(&dst.stderr).contains("-incoming"));
    assert_eq!(read_log(&dst_log), "", "the destination ran");
    for path in [&src_log, &dst_log] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn migrate_cancel_stops_a_live_migration_and_the_guest_counts_on() {
    let Some(guest) = counter_guest("migrate_cancel") else {
        return;
    };
    let src_log = temp("cancel-src.log");
    let socket = temp("cancel.sock");
    // A destination that takes the connection and never reads or
    // answers: the migration cannot end, so it is surely in flight when
    // cancelled (sending, or stopped for the last round and waiting for
    // the answer).
    let _ = std::fs::remove_file(&socket);
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let mut source = spawn(&guest, &src_log, &[]);
    let mut commands = source.stdin.take().unwrap();
    let answers = lines_of(source.stdout.take().unwrap());
    // Runs `command`, then `info status`; the lines up to its answer.
    let mut ask = |command: &str| {
        commands.write_all(command.as_bytes()).unwrap();
        commands.write_all(b"info status\n").unwrap();
        let mut lines = Vec::new();
        loop {
            let line = answers
                .recv_timeout(Duration::from_secs(60))
                .expect("the source answers");
            let done = line.starts_with("VM status: ");
            lines.push(line);
            if done {
                return lines.join("\n") + "\n";
            }
        }
    };
    ask("wait debugcon \"00000080\" 30\n");
    ask(&format!("migrate -d unix:{}\n", socket.display()));
    // Progress while it runs: the bytes sent grow from 0.
    let mut during = String::new();
    for _ in 0..500 {
        during = ask("info migrate\n");
        assert!(during.starts_with("Migration status: active\n"), "{during}");
        if field(&during, "transferred ram") > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(field(&during, "transferred ram") > 0, "{during}");
    assert_eq!(field(&during, "total ram"), 128 * 1024);
    let after = ask("migrate_cancel\ninfo migrate\n");
    assert!(
        after.starts_with("Migration status: cancelled\n"),
        "{after}"
    );
    assert!(after.ends_with("VM status: running\n"), "{after}");
    // The guest counts on here, with no gap.
    let counted = ask("wait debugcon \"00000180\" 30\n");
    assert!(counted.ends_with("VM status: running\n"), "{counted}");
    drop(commands);
    let _ = source.wait();
    let _connection = holder.join().unwrap().unwrap();
    let log = read_log(&src_log);
    assert!(check_counting(log.trim_end_matches(|c| c != '\n')) >= 0x180);
    let _ = std::fs::remove_file(&src_log);
    let _ = std::fs::remove_file(&socket);
}

#[test]
fn a_corrupted_snapshot_is_refused_by_a_fresh_process() {
    let Some(guest) = counter_guest("corrupted snapshot") else {
        return;
    };
    let (src_log, dst_log, snap) = (temp("bad-src.log"), temp("bad-dst.log"), temp("bad.snap"));
    let source = spawn(&guest, &src_log, &[]);
    run_source(
        source,
        &format!(
            "wait debugcon \"00000040\" 30\nmigrate \"file:{}\"\n",
            snap.display()
        ),
    );
    let mut bytes = std::fs::read(&snap).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&snap, &bytes).unwrap();
    let destination = spawn(
        &guest,
        &dst_log,
        &["-incoming", &format!("file:{}", snap.display())],
    );
    let (_, stderr) = quit(destination);
    assert!(stderr.contains("fails its checksum"), "{stderr}");
    assert!(stderr.contains("-incoming file:"), "{stderr}");
    assert_eq!(read_log(&dst_log), "", "the destination ran");
    for path in [&src_log, &dst_log, &snap] {
        let _ = std::fs::remove_file(path);
    }
}

/// SeaBIOS paused at its boot menu, with a USB keyboard and a USB disk on
/// an xHCI, migrated live to a second process: there `sendkey 1` still
/// picks the disk, SeaBIOS boots it and the boot sector reads it (its
/// pattern checked) and writes it through the destination's devices.
#[test]
fn seabios_at_its_boot_menu_migrates_and_sendkey_boots_the_usb_disk_there() {
    usb_across_a_migration(0);
}

/// The boot sector reading the USB disk in a loop (`r` a read of 64
/// sectors checked, `w` a write) while the guest migrates: it reads on at
/// the destination with no error. A migration that lands between a SCSI
/// command and its data is refused by the destination (the device holds
/// the data, see book/src/migration.md) and the source runs on: the test
/// then tries again with a new destination, up to 8 times.
#[test]
fn the_usb_boot_sector_reads_the_disk_across_a_live_migration() {
    usb_across_a_migration(1);
}

/// Reads the lines of `reader` into a channel.
fn lines_of(reader: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(reader)
            .lines()
            .map_while(Result::ok)
        {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn usb_across_a_migration(mode: u8) {
    let test = "usb across a migration";
    if let Err(e) = qom_vmm::kvm_available() {
        return eprintln!("{test} skipped: {e}");
    }
    if std::fs::metadata(qom_test_support::seabios::BIOS).is_err() {
        return eprintln!(
            "{test} skipped: {} missing (apt-get install seabios)",
            qom_test_support::seabios::BIOS
        );
    }
    let disk = match guests::usb_disk(mode) {
        Ok(disk) => disk,
        Err(why) => return eprintln!("{test} skipped: {why}"),
    };
    let (image, src_log, dst_log) = (
        temp(&format!("menu{mode}.img")),
        temp(&format!("menu{mode}-src.log")),
        temp(&format!("menu{mode}-dst.log")),
    );
    let socket = temp(&format!("menu{mode}.sock"));
    let uri = format!("unix:{}", socket.display());
    std::fs::write(&image, disk).unwrap();
    let drive = format!("file={},if=none,id=d0,format=raw", image.display());
    let machine = |log: &Path, extra: &[&str]| {
        let debugcon = format!("file:{}", log.display());
        let mut args = vec![
            "-M".to_string(),
            "pc".into(),
            "-accel".into(),
            "kvm".into(),
            "-debugcon".into(),
            debugcon,
            "-boot".into(),
            "menu=on".into(),
            "-drive".into(),
            drive.clone(),
            "-device".into(),
            "xhci-pci,id=usb0".into(),
            "-device".into(),
            "usb-kbd,bus=usb0.0,id=kbd0".into(),
            "-device".into(),
            "usb-storage,bus=usb0.0,drive=d0,id=disk0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(env!("CARGO_BIN_EXE_qom"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("qom runs")
    };
    let mut source = machine(&src_log, &[]);
    let mut commands = source.stdin.take().unwrap();
    let answers = lines_of(source.stdout.take().unwrap());
    let mut ask = |command: &str| {
        commands.write_all(command.as_bytes()).unwrap();
        commands.write_all(b"info status\n").unwrap();
        let deadline = Duration::from_secs(90);
        loop {
            let line = answers.recv_timeout(deadline).expect("the source answers");
            if let Some(status) = line.strip_prefix("VM status: ") {
                return status.to_string();
            }
        }
    };
    let mut boot =
        "wait debugcon \"Press ESC\" 60s\nsendkey esc\nwait debugcon \"Select boot device\"\n"
            .to_string();
    if mode == 1 {
        // The stream's tokens are "r"/"w" after a 0x01 byte (usb_boot.S).
        boot.push_str(&format!(
            "sendkey 1\nwait debugcon \"USBBOOT ok\" 60\nwait debugcon \"{}\" 60\n",
            "\u{1}r\u{1}w".repeat(3)
        ));
    }
    assert_eq!(ask(&boot), "running");
    let mut attempts = 0;
    let mut destination = loop {
        attempts += 1;
        let _ = std::fs::remove_file(&dst_log);
        let destination = machine(&dst_log, &["-incoming", &uri]);
        match ask(&format!("migrate {uri}\n")).as_str() {
            "paused (postmigrate)" => break destination,
            "running" if mode == 1 && attempts < 8 => {
                let refused = destination.wait_with_output().unwrap();
                let why = String::from_utf8_lossy(&refused.stderr).into_owned();
                assert!(why.contains("data phase of a SCSI command"), "{why}");
                eprintln!("{test}: attempt {attempts} refused: {why}");
            }
            other => panic!("the source is {other} after migrate"),
        }
    };
    drop(commands);
    let _ = source.wait();
    let mut stdin = destination.stdin.take().unwrap();
    let script = match mode {
        0 => "sendkey 1\nwait debugcon \"USBBOOT ok\" 60\ninfo status\n".to_string(),
        _ => format!(
            "wait debugcon \"{}\" 60\ninfo status\n",
            "\u{1}r\u{1}w".repeat(10)
        ),
    };
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    let dst = destination.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&dst.stdout).into_owned(),
        String::from_utf8_lossy(&dst.stderr).into_owned(),
    );
    // Without the tokens' 0x01 bytes, the stream reads "rwrw...".
    let (before, after) = (
        read_log(&src_log).replace('\u{1}', ""),
        read_log(&dst_log).replace('\u{1}', ""),
    );
    let written = std::fs::read(&image).unwrap();
    for path in [&image, &src_log, &dst_log] {
        let _ = std::fs::remove_file(path);
    }
    assert!(
        dst.status.success(),
        "destination: {stderr}\nlog after:\n{after}"
    );
    assert_eq!(stdout, "VM status: running\n");
    if mode == 1 {
        // Reads and writes on both sides, never a failed one.
        let ok = "USBBOOT ok\n";
        let read_before = &before[before.find(ok).expect("booted on the source") + ok.len()..];
        assert!(read_before.starts_with("rw"), "{before}");
        assert!(!read_before.contains(['E', 'F']), "{before}");
        let stream = after.trim_start_matches(|c| c != 'r' && c != 'w');
        assert!(stream.starts_with(['r', 'w']), "{after}");
        assert!(!stream.contains('E') && !stream.contains('F'), "{after}");
        assert!(
            !after.contains("USBBOOT"),
            "the destination booted again: {after}"
        );
        return;
    }
    // The menu was printed by the source; the boot by the destination.
    assert!(
        before.contains("1. USB MSC Drive QEMU QEMU HARDDISK"),
        "{before}"
    );
    assert!(!before.contains("USBBOOT"), "{before}");
    let usb: Vec<_> = after.lines().filter(|l| l.starts_with("USBBOOT")).collect();
    assert_eq!(usb, ["USBBOOT start", "USBBOOT ok"], "{after}");
    assert!(
        (0..512).all(|i| written[9 * 512 + i] == guests::usb_written(i)),
        "LBA 9 written"
    );
}

/// A QMP client on a Unix socket: one command, its `return` or `error`
/// line (events skipped), with spaces removed.
struct Qmp {
    reader: std::io::BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
}

impl Qmp {
    fn connect(path: &Path) -> Qmp {
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() > deadline => panic!("QMP at {}: {e}", path.display()),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut qmp = Qmp {
            reader: std::io::BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let mut greeting = String::new();
        std::io::BufRead::read_line(&mut qmp.reader, &mut greeting).unwrap();
        assert!(greeting.contains("QMP"), "{greeting}");
        qmp.execute(r#"{"execute": "qmp_capabilities"}"#);
        qmp
    }

    fn execute(&mut self, command: &str) -> String {
        writeln!(self.writer, "{command}").unwrap();
        loop {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut self.reader, &mut line).unwrap();
            assert!(!line.is_empty(), "QMP closed after {command}");
            let line: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if line.starts_with("{\"return\"") || line.starts_with("{\"error\"") {
                return line;
            }
        }
    }
}

/// QMP's `migrate` returns at once with a guest; `query-migrate` follows
/// the migration to `completed` with QEMU's members, and the source is
/// then in `postmigrate`.
#[test]
fn qmp_migrate_and_query_migrate_follow_a_live_migration() {
    let Some(guest) = counter_guest("QMP live migration") else {
        return;
    };
    let (src_log, dst_log) = (temp("qmp-src.log"), temp("qmp-dst.log"));
    let (socket, qmp_path) = (temp("qmp-mig.sock"), temp("qmp-src.qmp"));
    let uri = format!("unix:{}", socket.display());
    let destination = spawn(&guest, &dst_log, &["-incoming", &uri]);
    let qmp_spec = format!("unix:{},server=on,wait=off", qmp_path.display());
    let mut source = spawn(&guest, &src_log, &["-qmp", &qmp_spec]);
    let mut qmp = Qmp::connect(&qmp_path);
    assert!(wait_lines(&src_log, 0x40, Duration::from_secs(30)));
    let answer = qmp.execute(&format!(
        r#"{{"execute": "migrate", "arguments": {{"uri": "{uri}"}}}}"#
    ));
    assert_eq!(answer, r#"{"return":{}}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    let info = loop {
        let info = qmp.execute(r#"{"execute": "query-migrate"}"#);
        assert!(!info.contains("\"failed\""), "{info}");
        if info.contains("\"status\":\"completed\"") || Instant::now() > deadline {
            break info;
        }
        assert!(info.contains("\"status\":\"active\""), "{info}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(info.contains("\"status\":\"completed\""), "{info}");
    for member in [
        "\"total-time\":",
        "\"downtime\":",
        "\"transferred\":",
        "\"dirty-sync-count\":",
    ] {
        assert!(info.contains(member), "{member} in {info}");
    }
    assert!(info.contains("\"total\":134217728"), "{info}");
    let status = qmp.execute(r#"{"execute": "query-status"}"#);
    assert!(status.contains("\"status\":\"postmigrate\""), "{status}");
    assert!(status.contains("\"running\":false"), "{status}");
    qmp.execute(r#"{"execute": "quit"}"#);
    let _ = source.wait();
    let counted = wait_lines(&dst_log, 100, Duration::from_secs(30));
    let (_, stderr) = quit(destination);
    assert!(counted, "the destination did not count on: {stderr}");
    let all = read_log(&src_log) + &read_log(&dst_log);
    check_counting(all.trim_end_matches(|c| c != '\n'));
    for path in [&src_log, &dst_log] {
        let _ = std::fs::remove_file(path);
    }
}

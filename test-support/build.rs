//! Assembles the test guests in `guests/` with GNU as and ld (binutils)
//! into `$OUT_DIR` (`qom_test_support::guests` finds them); the tests that
//! run them skip, saying why, when the tools are missing
//! (`QOM_GUESTS_ERROR`).

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Assembles `guests/{source}.S` (with `defsym` defined) into
/// `{name}.bin`, a 64 KiB image linked at 0xffff0000.
fn build(out: &Path, name: &str, source: &str, defsym: Option<&str>) -> Result<(), String> {
    let object = out.join(format!("{name}.o"));
    let mut as_cmd = Command::new("as");
    as_cmd.args(["--32", "-I", "guests"]);
    if let Some(sym) = defsym {
        as_cmd.args(["--defsym", sym]);
    }
    run(as_cmd
        .arg("-o")
        .arg(&object)
        .arg(format!("guests/{source}.S")))?;
    run(Command::new("ld")
        .args([
            "-m",
            "elf_i386",
            "-Ttext=0xffff0000",
            "--oformat",
            "binary",
            "-o",
        ])
        .arg(out.join(format!("{name}.bin")))
        .arg(&object))
}

/// Assembles `guests/{name}.S` into `{name}.bin`, a 512-byte boot sector
/// linked at 0x7c00.
fn build_boot_sector(out: &Path, name: &str) -> Result<(), String> {
    let object = out.join(format!("{name}.o"));
    run(Command::new("as")
        .args(["--32", "-I", "guests", "-o"])
        .arg(&object)
        .arg(format!("guests/{name}.S")))?;
    run(Command::new("ld")
        .args([
            "-m",
            "elf_i386",
            "-Ttext=0x7c00",
            "--oformat",
            "binary",
            "-o",
        ])
        .arg(out.join(format!("{name}.bin")))
        .arg(&object))
}

fn main() {
    println!("cargo:rerun-if-changed=guests");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let result = build(&out, "bar_reader", "bar_reader", None)
        .and_then(|()| build(&out, "bench", "bar_reader", Some("BENCH=1")))
        .and_then(|()| build(&out, "reset_probe", "reset_probe", None))
        .and_then(|()| build(&out, "pci_dump", "pci_dump", None))
        .and_then(|()| build(&out, "counter", "counter", None))
        .and_then(|()| build_boot_sector(&out, "usb_boot"));
    println!("cargo:rustc-env=QOM_GUESTS_DIR={}", out.display());
    let error = result.err().unwrap_or_default().replace('\n', " ");
    if !error.is_empty() {
        println!("cargo:warning=test guests not built: {error}");
    }
    println!("cargo:rustc-env=QOM_GUESTS_ERROR={error}");
}

//! Small x86 guests for the KVM tests and benchmarks, assembled from
//! `guests/*.S` by this crate's build script with GNU as and ld
//! (binutils): 64 KiB BIOS images a `pc` runs as `-bios`.
//!
//! - `bar_reader`: programs the xHCI controller's BAR 0 in slot 2 and
//!   reads it in a loop, counting reads served and unassigned;
//! - `bench`: 1,000,000 port reads of isa-debugcon, 1,000,000 MMIO reads
//!   of the xHCI BAR, then exits through `isa-debug-exit` (both from
//!   `guests/bar_reader.S`);
//! - `reset_probe`: prints the in-kernel PIC, IOAPIC and PIT state it
//!   finds on isa-debugcon, changes it and halts (`guests/reset_probe.S`).

use std::path::PathBuf;

/// Where guest `name` was built (`bar_reader`, `bench`, `reset_probe`), or why the
/// guests were not built (binutils missing): a test prints that it
/// skipped and why.
///
/// ```
/// match qom_test_support::guests::path("bar_reader") {
///     Ok(path) => assert_eq!(std::fs::metadata(path).unwrap().len(), 0x1_0000),
///     Err(why) => eprintln!("skipped: {why}"),
/// }
/// ```
pub fn path(name: &str) -> Result<PathBuf, String> {
    let error = env!("QOM_GUESTS_ERROR");
    if !error.is_empty() {
        return Err(format!("test guests not built: {error}"));
    }
    let path = PathBuf::from(env!("QOM_GUESTS_DIR")).join(format!("{name}.bin"));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "no test guest `{name}` ({} is missing)",
            path.display()
        ))
    }
}

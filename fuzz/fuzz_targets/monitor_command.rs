//! The monitor's command parser and every command on a live machine:
//! arbitrary lines succeed or fail with one error message, never panic.
#![no_main]

use qom_devices::Machine;
use qom_monitor::Monitor;
use libfuzzer_sys::fuzz_target;
use std::sync::{Mutex, OnceLock};

fn monitor() -> &'static Mutex<Monitor> {
    static MONITOR: OnceLock<Mutex<Monitor>> = OnceLock::new();
    MONITOR.get_or_init(|| Mutex::new(Monitor::new(Machine::create("virt").unwrap())))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // `graph --dot/--svg FILE` writes files: keep the fuzzer off the disk.
    if text.contains("graph") {
        return;
    }
    let mut monitor = monitor().lock().unwrap_or_else(|e| e.into_inner());
    for line in text.split(['\n', ';']) {
        if let Err(e) = monitor.execute(line) {
            assert!(!e.0.contains('\n'), "one error line: {e}");
        }
    }
});

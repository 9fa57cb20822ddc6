//! The monitor's command parser and every command on a live machine:
//! arbitrary lines succeed or fail with one error message, never panic.
//! Each input gets a machine of its own, torn down after it (and checked
//! to be gone), so an input's outcome never depends on the ones before
//! it and a crash reproduces from its input alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qom_devices::Machine;
use qom_monitor::{Flow, Monitor};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // `graph --dot FILE` and `graph --svg FILE` write files: keep the
    // fuzzer off the disk (any other `graph` form prints).
    if text.contains("--dot") || text.contains("--svg") {
        return;
    }
    let machine = Machine::create("virt").expect("the last input's machine is gone");
    let mut monitor = Monitor::new(machine);
    for line in text.split(['\n', ';']) {
        match monitor.execute(line) {
            Ok((_, Flow::Quit)) => break,
            Ok(_) => {}
            Err(e) => assert!(!e.0.contains('\n'), "one error line: {e}"),
        }
    }
    drop(monitor);
    // Torn down: every device the input made or plugged finalized, and
    // the next input starts from the same empty tree.
    assert!(qom_rt::resolve_path("/machine").is_err(), "the machine left the tree");
    for (type_name, counts) in qom_devices::lifetime::counts() {
        assert_eq!(counts.live, 0, "a {type_name} outlived its machine");
    }
});

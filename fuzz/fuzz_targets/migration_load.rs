//! The migration load path: any bytes loaded into a fresh `virt` machine
//! (with the xHCI the corpus was saved with) either load or are refused,
//! never panic, and a refused stream changes nothing: the machine saves
//! the same bytes before and after. Each input gets a machine of its own,
//! torn down after it, so an outcome never depends on the inputs before.
//! The corpus (valid streams and mutations of them) is written by
//! `devices/tests/migration.rs`'s ignored test `write_fuzz_corpus`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qom_devices::Machine;

fuzz_target!(|data: &[u8]| {
    let machine = Machine::create("virt").expect("the last input's machine is gone");
    machine.device_add("xhci-pci,id=usb0").expect("an xHCI plugs");
    let before = machine.save_state().expect("a machine saves");
    if machine.load_state(data).is_err() {
        let after = machine.save_state().expect("a machine saves");
        assert!(after == before, "a refused stream changed the machine");
    }
    drop(machine);
    assert!(qom_rt::resolve_path("/machine").is_err(), "the machine left the tree");
});

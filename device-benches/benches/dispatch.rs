//! Device-layer benchmarks (criterion), and at the end the figures of
//! this run (see `measure`):
//! * a guest read dispatched through the address space (finding the
//!   region, taking and releasing a reference on its owner, the interface
//!   lookup) vs a direct call of the same handler (target <= 3x), measured
//!   again in alternation;
//! * `device_add` + `device_del` of `xhci-pci`, per second.
//!
//! Run: `cargo bench -p qom-device-benches --bench dispatch`; a filter
//! runs, and prints, only the benchmarks it names.

// The measuring module of the runtime's benchmarks, shared rather than
// copied.
#[path = "../../qom-rt/benches/measure/mod.rs"]
mod measure;

use criterion::{black_box, Criterion};
use measure::{plain, Runs};
use qom_devices::machine::{Machine, VirtMachine};
use qom_devices::memory::MmioOps;
use qom_devices::pci::MMIO_BASE;
use std::time::Duration;

const UART0: u64 = 0x0900_0000;
/// UARTFR: a read with no side effect.
const FR: u64 = 0x18;

fn benches<'a>(c: &mut Criterion, runs: &Runs<'a>, machine: &'a Machine) {
    let virt = machine.board::<VirtMachine>().expect("virt");
    let uart = &virt.soc.uarts[0];
    let mut g = runs.group(c, "mmio");
    g.bench(
        "direct_handler",
        plain(|| uart.mmio_read(&uart.iomem, black_box(FR), 4)),
    )
    .bench(
        "address_space_dispatch",
        plain(|| machine.system().read(black_box(UART0 + FR), 4)),
    );
    // Only while the device is plugged: this routine is not run again
    // after (no ratio uses it).
    machine.device_add("xhci-pci,id=bench").unwrap();
    g.bench(
        "pci_bar_dispatch",
        plain(|| machine.system().read(black_box(MMIO_BASE), 4)),
    );
    machine.device_del("bench").unwrap();
    drop(g);

    let mut g = runs.group(c, "hotplug");
    g.settings().measurement_time(Duration::from_secs(3));
    g.bench(
        "xhci_add_del",
        plain(|| {
            machine.device_add("xhci-pci,id=cycle").unwrap();
            machine.device_del("cycle").unwrap();
        }),
    );
}

fn main() {
    let machine = Machine::create("virt").expect("machine");
    let runs = Runs::new();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &runs, &machine);
    c.final_summary();
    measure::heading(&format!(
        "measured in this run (a ratio: the median of {} rounds timing its two routines in \
         alternation, range, fastest rounds, and the medians of criterion's batches; nothing for \
         benchmarks that did not run):",
        measure::ROUNDS
    ));
    runs.print_ratio(
        "guest read: address-space dispatch / direct handler",
        "<= 3",
        "mmio/address_space_dispatch",
        "mmio/direct_handler",
    );
    runs.print_time(
        "guest read of a PCI BAR (xhci-pci)",
        "mmio/pci_bar_dispatch",
    );
    if let Some(ns) = runs
        .ns("hotplug/xhci_add_del")
        .filter(|_| measure::measuring())
    {
        println!(
            "device_add + device_del of xhci-pci: {:.2} µs = {:.0} per second (median of criterion's batches, this run)",
            ns / 1e3,
            1e9 / ns
        );
    }
}

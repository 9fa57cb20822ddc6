//! Device-layer benchmarks (criterion), with the ratio the design targets:
//! * a guest read dispatched through the address space (finding the
//!   region, taking and releasing a reference on its owner, the interface
//!   lookup) vs a direct call of the same handler (target <= 3x);
//! * `device_add` + `device_del` of `xhci-pci`, per second.
//!
//! Run: `cargo bench -p qom-device-benches --bench dispatch`.

use criterion::{black_box, Criterion};
use qom_devices::machine::{Machine, VirtMachine};
use qom_devices::memory::MmioOps;
use qom_devices::pci::MMIO_BASE;
use std::time::Duration;

const UART0: u64 = 0x0900_0000;
/// UARTFR: a read with no side effect.
const FR: u64 = 0x18;

fn benches(c: &mut Criterion, machine: &Machine) {
    let virt = machine.board::<VirtMachine>().expect("virt");
    let uart = &virt.soc.uarts[0];
    let mut g = c.benchmark_group("mmio");
    g.bench_function("direct_handler", |b| {
        b.iter(|| black_box(uart.mmio_read(&uart.iomem, black_box(FR), 4)))
    });
    g.bench_function("address_space_dispatch", |b| {
        b.iter(|| black_box(machine.system().read(black_box(UART0 + FR), 4)))
    });
    machine.device_add("xhci-pci,id=bench").unwrap();
    g.bench_function("pci_bar_dispatch", |b| {
        b.iter(|| black_box(machine.system().read(black_box(MMIO_BASE), 4)))
    });
    machine.device_del("bench").unwrap();
    g.finish();

    let mut g = c.benchmark_group("hotplug");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("xhci_add_del", |b| {
        b.iter(|| {
            machine.device_add("xhci-pci,id=cycle").unwrap();
            machine.device_del("cycle").unwrap();
        })
    });
    g.finish();
}

fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_string());
    let text =
        std::fs::read_to_string(format!("{dir}/criterion/{group}/{id}/new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let machine = Machine::create("virt").expect("machine");
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &machine);
    c.final_summary();
    println!("\nratios:");
    match (
        mean_ns("mmio", "address_space_dispatch"),
        mean_ns("mmio", "direct_handler"),
    ) {
        (Some(d), Some(x)) => println!(
            "dispatch / direct handler: {d:.1} ns / {x:.1} ns = {:.2} (target <= 3)",
            d / x
        ),
        _ => println!("dispatch / direct handler: not measured in this run"),
    }
    if let Some(t) = mean_ns("hotplug", "xhci_add_del") {
        println!(
            "device_add + device_del of xhci-pci: {t:.0} ns = {:.0} per second",
            1e9 / t
        );
    }
}

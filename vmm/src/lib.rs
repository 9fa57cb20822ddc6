//! # qom-vmm — the KVM accelerator
//!
//! Runs a guest on a [`Machine`](qom_devices::Machine) whose board has
//! CPUs (it lists [`CpuBoard`](qom_devices::machine::CpuBoard): `pc`):
//! one KVM VM with the in-kernel interrupt controllers
//! (`KVM_CREATE_IRQCHIP`: PIC, IOAPIC, local APIC) and PIT
//! (`KVM_CREATE_PIT2`), memory slots that follow the RAM sections of the
//! machine's system address space, and a vCPU thread running `KVM_RUN`.
//! Port-I/O exits go to the board's port-I/O address space (QEMU's
//! `system_io`), MMIO exits to system memory, both through the device
//! library's flat-view dispatch, which holds the target region owner's
//! reference for the access.
//!
//! ```no_run
//! use qom_devices::machine::{Firmware, Machine, MachineOptions};
//! use qom_vmm::{Vm, VmOptions};
//! use std::sync::Arc;
//!
//! let bytes = std::fs::read("/usr/share/seabios/bios-256k.bin").unwrap();
//! let firmware = Firmware { path: "bios-256k.bin".into(), bytes };
//! let options = MachineOptions { firmware: Some(firmware), ..Default::default() };
//! let machine = Arc::new(Machine::create_with("pc", "/machine", &options).unwrap());
//! let vm = Vm::new(machine, VmOptions { start_paused: true })?;
//! vm.resume();                       // `cont`
//! vm.pause()?;                       // `stop`
//! println!("{}", vm.registers()?);   // `info registers`
//! vm.reset()?;                       // `system_reset`
//! # Ok::<(), qom_vmm::Error>(())
//! ```
//!
//! This crate and the runtime are the only places `unsafe` lives: the
//! memory-slot ioctl (`slots.rs`), the reading of a port-I/O exit from the
//! vCPU's shared `kvm_run` page and the kick signal's handler
//! (`vcpu.rs`). Each block says why it is sound.

mod control;
mod error;
pub mod migration;
mod regs;
mod reset;
mod slots;
mod vcpu;
mod vm;

pub use control::RunState;
pub use error::{Error, Result};
pub use migration::{LoadStats, MigrationStats};
pub use regs::Registers;
pub use vm::{RunStateWatch, Vm, VmOptions, IDENTITY_MAP_ADDR};

/// Whether `/dev/kvm` can be opened and answers the KVM API this crate
/// needs; `Err` says why not in one line (for skipping tests).
pub fn kvm_available() -> Result<()> {
    vm::open_kvm().map(drop)
}

//! # qom-vmm — the KVM accelerator
//!
//! Runs a guest on a board built with the device library: one KVM VM with
//! the in-kernel interrupt controllers (`KVM_CREATE_IRQCHIP`: PIC, IOAPIC,
//! local APIC) and PIT (`KVM_CREATE_PIT2`), memory slots that follow the
//! RAM sections of the board's system address space, and vCPU threads
//! running `KVM_RUN`. Port-I/O exits go to the board's port-I/O address
//! space (QEMU's `system_io`), MMIO exits to its system address space,
//! both through the device library's flat-view dispatch, which holds the
//! target region owner's reference for the access.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn board() -> Arc<dyn qom_vmm::Board> { unimplemented!() }
//! use qom_vmm::{Vm, VmOptions};
//! let vm = Vm::new(board(), VmOptions { start_paused: true })?;
//! vm.resume();                       // `cont`
//! vm.pause()?;                       // `stop`
//! println!("{}", vm.registers()?);   // `info registers`
//! # Ok::<(), qom_vmm::Error>(())
//! ```
//!
//! This crate and the runtime are the only places `unsafe` lives: the
//! memory-slot ioctl (`slots.rs`), the reading of a port-I/O exit from the
//! vCPU's shared `kvm_run` page and the kick signal's handler
//! (`vcpu.rs`). Each block says why it is sound.

mod board;
mod error;
mod regs;
mod slots;
mod vcpu;
mod vm;

pub use board::Board;
pub use error::{Error, Result};
pub use regs::Registers;
pub use vm::{RunState, Vm, VmOptions};

/// Whether `/dev/kvm` can be opened and answers the KVM API this crate
/// needs; `Err` says why not in one line (for skipping tests).
pub fn kvm_available() -> Result<()> {
    vm::open_kvm().map(drop)
}

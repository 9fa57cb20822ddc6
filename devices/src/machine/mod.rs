//! Machines: the abstract `machine` type every board derives from, the
//! registry of boards (`-M help` lists them), the command line's options
//! for them, [`Machine`] (a board built in the tree and realized), and the
//! `virt` board (`pc` is in [`crate::pc`]). A board is a
//! registered type like any other, so one defined in another crate is
//! found by name as soon as that crate is linked.

mod base;
mod drive;
mod instance;
mod options;
mod snapshot;
mod virt;

pub use base::{
    default_machine, machine_types, ConsoleSink, CpuBoard, ExitSink, IrqSink, MachineClass,
    MachineImpl, MachineState, MachineType, MACHINE_TYPE_SUFFIX,
};
pub use drive::{Drive, Drives};
pub use instance::Machine;
pub use options::{Firmware, MachineOptions};
pub use virt::VirtMachine;

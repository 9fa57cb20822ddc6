//! Machines: the abstract `machine` type every board derives from, the
//! registry of boards (`-M help` lists them), [`Machine`] (a board built
//! in the tree and realized), and the boards themselves. A board is a
//! registered type like any other, so one defined in another crate is
//! found by name as soon as that crate is linked.

mod base;
mod instance;
mod snapshot;
mod virt;

pub use base::{
    default_machine, machine_types, ConsoleSink, MachineClass, MachineImpl, MachineState,
    MachineType, MACHINE_TYPE_SUFFIX,
};
pub use instance::Machine;
pub use virt::VirtMachine;

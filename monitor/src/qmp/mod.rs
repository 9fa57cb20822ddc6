//! QMP, QEMU's machine protocol, so that management software and QEMU's
//! own Python client (`qemu.qmp`) drive a `qom` machine as they drive
//! QEMU: `-qmp unix:PATH,server=on,wait=off` or
//! `-qmp tcp:HOST:PORT,server=on,wait=off`.
//!
//! - [`wire`]: the JSON messages (serde), requests checked as QEMU checks
//!   them;
//! - [`schema`]: QAPI types from Rust structs, the argument checks and
//!   `query-qmp-schema`;
//! - [`commands`]: the table, every command declared once;
//! - [`events`]: `DEVICE_DELETED`, `STOP`, `RESUME`, `RESET`, `SHUTDOWN`;
//! - [`framing`]: where each request ends in the byte stream;
//! - [`session`]: one client's negotiation and commands, apart from any
//!   socket;
//! - [`server`]: the socket and the client threads.
//!
//! Each command calls the same operation as its HMP counterpart, on the
//! same [`Monitor`](crate::Monitor), one command at a time.

pub mod commands;
mod errors;
pub mod events;
pub mod framing;
mod machine;
mod qom;
pub mod schema;
pub mod server;
pub mod session;
pub mod wire;

pub use machine::{
    DeviceAddArgs, DeviceDelArgs, HmpArgs, PciDeviceClassInfo, PciDeviceId, PciDeviceInfo, PciInfo,
    PciMemoryRegion, StatusInfo, VersionInfo,
};
pub use qom::{
    ListTypesArgs, ObjectPropertyInfo, ObjectTypeInfo, PathArgs, QomGetArgs, QomSetArgs,
    TypenameArgs,
};
pub use server::{Endpoint, QmpServer};
pub use session::{Answer, Session};

//! qtest, QEMU's test protocol: a line-based text protocol through which a
//! test drives the machine as a guest would, so that one test script runs
//! against QEMU and `qom` alike (`-qtest stdio` or `-qtest unix:PATH`).
//!
//! - [`protocol`]: one command line in, the reply lines out, answered as
//!   QEMU 7.2's `softmmu/qtest.c` answers them;
//! - [`server`]: the endpoint (standard streams, or a Unix socket that
//!   `qom` connects to, as QEMU does) and the loop.
//!
//! Accesses go through the machine's system address space, as a guest's
//! do, and `outb`/`inb` through its port-I/O space where it has one (`pc`).

pub mod protocol;
pub mod server;

pub use protocol::{parse_number, QtestSession};
pub use server::QtestEndpoint;

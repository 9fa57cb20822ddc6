//! `isa-debugcon` (QEMU `hw/char/debugcon.c`): a one-byte port whose
//! writes go to a character backend and whose reads return the readback
//! byte 0xe9; and `isa-debug-exit` (`hw/misc/debugexit.c`): a write ends
//! the run with status `(value << 1) | 1`. The `pc` board maps the first
//! with `-debugcon`; the second is plugged with `-device
//! isa-debug-exit,iobase=0xf4,iosize=4`, as with QEMU.

use crate::chardev::CharBackend;
use crate::device::DeviceImpl;
use crate::machine::ExitSink;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use qom_rt::prelude::*;
use std::sync::Mutex;

/// `debugcon_ioport_read`'s answer (the Bochs `port_e9_hack` readback).
pub const READBACK: u8 = 0xe9;

/// The debug console port (`"isa-debugcon"`).
#[derive(QomObject)]
#[qom(name = "isa-debugcon", interfaces(MmioOps))]
pub struct DebugCon {
    parent: ParentField<crate::Device>,
    /// The one-byte port.
    #[child(embedded)]
    pub io: MemoryRegion,
    backend: Mutex<CharBackend>,
}

impl ObjectImpl for DebugCon {
    fn init(&self) {
        // QEMU's `debugcon_ops`: 1-byte accesses (wider ones are split).
        self.io.init_io(
            "debugcon",
            1,
            Sizes { min: 1, max: 4 },
            Sizes { min: 1, max: 1 },
        );
    }
}

impl DeviceImpl for DebugCon {
    const DESCRIPTION: &'static str = "ISA debug console (port 0xe9 style)";
}

impl DebugCon {
    /// Sends the output to `backend`.
    pub fn set_backend(&self, backend: CharBackend) {
        *self.backend.lock().unwrap_or_else(|e| e.into_inner()) = backend;
    }
}

impl MmioOps for DebugCon {
    fn mmio_read(&self, _: &MemoryRegion, _: u64, _: u32) -> u64 {
        READBACK.into()
    }

    fn mmio_write(&self, _: &MemoryRegion, _: u64, _: u32, value: u64) {
        let backend = self.backend.lock().unwrap_or_else(|e| e.into_inner());
        backend.write(&[value as u8]);
    }
}

/// The test-exit port (`"isa-debug-exit"`).
#[derive(QomObject)]
#[qom(name = "isa-debug-exit", interfaces(MmioOps))]
pub struct DebugExit {
    parent: ParentField<crate::Device>,
    /// The ports, `iosize` of them from `iobase`.
    #[child(embedded)]
    pub io: MemoryRegion,
    /// The first port.
    #[property(default = 0x501, doc = "first I/O port")]
    pub iobase: Prop<u16>,
    /// How many ports.
    #[property(default = 2, doc = "number of I/O ports (1-8)")]
    pub iosize: Prop<u16>,
    on_exit: Mutex<Option<ExitSink>>,
}

impl ObjectImpl for DebugExit {}

impl DeviceImpl for DebugExit {
    const DESCRIPTION: &'static str = "ends the run with a status the guest writes";

    /// `debug_exit_realizefn`: the region gets `iosize` ports. The device
    /// is not hot-pluggable, so it is realized once.
    fn realize(&self) -> Result<(), String> {
        let size = self.iosize.get();
        if !(1..=8).contains(&size) {
            return Err(format!("iosize must be between 1 and 8, not {size}"));
        }
        self.io
            .init_io("isa-debug-exit", size.into(), Sizes::ANY, Sizes::ANY);
        Ok(())
    }
}

impl DebugExit {
    /// Called with the exit status on each guest write.
    pub fn connect(&self, on_exit: ExitSink) {
        *self.on_exit.lock().unwrap_or_else(|e| e.into_inner()) = Some(on_exit);
    }
}

impl MmioOps for DebugExit {
    fn mmio_read(&self, _: &MemoryRegion, _: u64, _: u32) -> u64 {
        0
    }

    fn mmio_write(&self, _: &MemoryRegion, _: u64, _: u32, value: u64) {
        // `debug_exit_write`: exit((val << 1) | 1).
        let status = ((value as u32) << 1) | 1;
        let on_exit = self
            .on_exit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(on_exit) = on_exit {
            on_exit(status);
        }
    }
}

//! `isa-serial`: a 16550A UART (QEMU `hw/char/serial.c`) at 0x3f8, IRQ 4.
//!
//! Modelled: the divisor latch, IER, IIR with QEMU's priority order (line
//! status, receive data, THR empty), the FIFO enable bits in IIR, LCR,
//! MCR (with loopback of nothing), LSR, MSR as QEMU resets it with no
//! modem lines wired (DCD, DSR, CTS), and SCR. Transmission is immediate:
//! a THR write goes to the backend and THR is empty again at once (QEMU
//! with a backend that never blocks). The receive FIFO holds 16 bytes
//! (`UART_FIFO_LENGTH`); a byte arriving when it is full is dropped and
//! sets LSR.OE, as QEMU's `serial_receive1` does. Not modelled: receive
//! FIFO triggers and timeouts (a received byte raises RDI at once), modem
//! status interrupts, break.
//!
//! The registers and the receive FIFO migrate (QEMU's `vmstate_serial`
//! with its `fifo` subsection); the backend does not.

use crate::chardev::CharBackend;
use crate::device::DeviceImpl;
use crate::irq::IrqLine;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use qom_rt::migration::{MigrateField, MigrationHooks, Value, VmState};
use qom_rt::prelude::*;
use std::collections::VecDeque;
use std::sync::Mutex;

/// COM1's base port.
pub const COM1_BASE: u64 = 0x3f8;
/// COM1's ISA interrupt.
pub const COM1_IRQ: u32 = 4;

const IER_RDI: u8 = 0x01;
const IER_THRI: u8 = 0x02;
const IER_RLSI: u8 = 0x04;
const IIR_NO_INT: u8 = 0x01;
const IIR_THRI: u8 = 0x02;
const IIR_RDI: u8 = 0x04;
const IIR_RLSI: u8 = 0x06;
const IIR_FIFO_ENABLED: u8 = 0xc0;
const LCR_DLAB: u8 = 0x80;
const LSR_DR: u8 = 0x01;
const LSR_OE: u8 = 0x02;
const LSR_BI_FE_PE: u8 = 0x1c;
const LSR_THRE: u8 = 0x20;
const LSR_TEMT: u8 = 0x40;
const FCR_FE: u8 = 0x01;
/// The receive FIFO's size (`UART_FIFO_LENGTH`).
pub const RX_FIFO: usize = 16;

struct Regs {
    divider: u16,
    ier: u8,
    fcr: u8,
    lcr: u8,
    mcr: u8,
    lsr: u8,
    msr: u8,
    scr: u8,
    rx: VecDeque<u8>,
    /// THR-empty interrupt pending (cleared by reading IIR or writing THR).
    thr_ipending: bool,
}

impl Regs {
    /// `serial_reset`.
    fn reset() -> Regs {
        Regs::from_state(&SerialState::default())
    }

    /// The registers as they migrate.
    fn state(&self) -> SerialState {
        let mut rx = [0; RX_FIFO];
        for (slot, byte) in rx.iter_mut().zip(&self.rx) {
            *slot = *byte;
        }
        SerialState {
            divider: self.divider,
            ier: self.ier,
            fcr: self.fcr,
            lcr: self.lcr,
            mcr: self.mcr,
            lsr: self.lsr,
            msr: self.msr,
            scr: self.scr,
            thr_ipending: self.thr_ipending,
            rx,
            rx_len: self.rx.len(),
        }
    }

    /// The registers from a migrated (checked) state.
    fn from_state(state: &SerialState) -> Regs {
        Regs {
            divider: state.divider,
            ier: state.ier,
            fcr: state.fcr,
            lcr: state.lcr,
            mcr: state.mcr,
            lsr: state.lsr,
            msr: state.msr,
            scr: state.scr,
            rx: state.rx[..state.rx_len.min(RX_FIFO)]
                .iter()
                .copied()
                .collect(),
            thr_ipending: state.thr_ipending,
        }
    }
}

/// The 16550A's registers as they migrate, QEMU's `vmstate_serial` fields
/// (`divider`, `rbr`/FIFO, `ier`, `iir` derived here, `lcr`, `mcr`, `lsr`,
/// `msr`, `scr`, `fcr`) with the receive FIFO as its bytes and length.
#[derive(Clone, VmState)]
#[migrate(check = SerialState::check_loaded)]
pub struct SerialState {
    divider: u16,
    ier: u8,
    fcr: u8,
    lcr: u8,
    mcr: u8,
    lsr: u8,
    msr: u8,
    scr: u8,
    thr_ipending: bool,
    /// The receive FIFO, oldest byte first; `rx_len` of them are valid.
    rx: [u8; RX_FIFO],
    rx_len: usize,
}

impl Default for SerialState {
    /// `serial_reset`.
    fn default() -> Self {
        SerialState {
            divider: 0x0c,
            ier: 0,
            fcr: 0,
            lcr: 0,
            mcr: 0x08,
            lsr: LSR_TEMT | LSR_THRE,
            msr: 0xb0,
            scr: 0,
            thr_ipending: false,
            rx: [0; RX_FIFO],
            rx_len: 0,
        }
    }
}

impl SerialState {
    /// A FIFO length past the FIFO would index outside it.
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if self.rx_len > RX_FIFO {
            return Err(format!(
                "rx_len {} does not fit the {RX_FIFO}-byte receive FIFO",
                self.rx_len
            ));
        }
        Ok(())
    }
}

/// The registers behind their lock: what migrates of the UART.
#[derive(Default)]
struct SerialRegs(Mutex<Regs>);

impl MigrateField for SerialRegs {
    type Value = SerialState;

    fn save(&self) -> Value {
        lock(&self.0).state().to_value()
    }

    fn restore(&self, value: SerialState) {
        *lock(&self.0) = Regs::from_state(&value);
    }
}

fn lock(regs: &Mutex<Regs>) -> std::sync::MutexGuard<'_, Regs> {
    regs.lock().unwrap_or_else(|e| e.into_inner())
}

impl Regs {
    /// `serial_update_irq`: the highest-priority pending source.
    fn iir(&self) -> u8 {
        let id = if self.ier & IER_RLSI != 0 && self.lsr & (LSR_OE | LSR_BI_FE_PE) != 0 {
            IIR_RLSI
        } else if self.ier & IER_RDI != 0 && self.lsr & LSR_DR != 0 {
            IIR_RDI
        } else if self.ier & IER_THRI != 0 && self.thr_ipending {
            IIR_THRI
        } else {
            IIR_NO_INT
        };
        let fifo = if self.fcr & FCR_FE != 0 {
            IIR_FIFO_ENABLED
        } else {
            0
        };
        id | fifo
    }
}

/// The UART (`"isa-serial"`).
#[derive(QomObject)]
#[qom(name = "isa-serial", interfaces(MmioOps))]
#[migrate(version = 1, min_version = 0)]
pub struct Serial {
    parent: ParentField<crate::Device>,
    /// The eight registers.
    #[child(embedded)]
    pub io: MemoryRegion,
    #[migrate]
    regs: SerialRegs,
    backend: Mutex<CharBackend>,
    /// The interrupt output (ISA IRQ 4 on `pc`).
    pub irq: IrqLine,
}

impl Default for Regs {
    fn default() -> Self {
        Regs::reset()
    }
}

impl ObjectImpl for Serial {
    fn init(&self) {
        self.io
            .init_io("serial", 8, Sizes::ANY, Sizes { min: 1, max: 1 });
    }
}

impl DeviceImpl for Serial {
    const DESCRIPTION: &'static str = "16550A UART";

    fn reset(&self) {
        *self.lock() = Regs::reset();
        self.irq.set(false);
    }
}

/// The interrupt line follows the loaded registers (QEMU migrates IIR's
/// inputs; the line is derived from them).
impl MigrationHooks for Serial {
    fn post_load(&self, _version: u32) {
        let regs = self.lock();
        self.update_irq(&regs);
    }
}

impl Serial {
    fn lock(&self) -> std::sync::MutexGuard<'_, Regs> {
        lock(&self.regs.0)
    }

    /// Sends transmitted bytes to `backend`.
    pub fn set_backend(&self, backend: CharBackend) {
        *self.backend.lock().unwrap_or_else(|e| e.into_inner()) = backend;
    }

    /// A byte arriving on the receive line.
    pub fn receive(&self, byte: u8) {
        let mut regs = self.lock();
        if regs.rx.len() < RX_FIFO {
            regs.rx.push_back(byte);
        } else {
            // `serial_receive1` with a full FIFO: the byte is lost.
            regs.lsr |= LSR_OE;
        }
        regs.lsr |= LSR_DR;
        self.update_irq(&regs);
    }

    fn update_irq(&self, regs: &Regs) {
        self.irq.set(regs.iir() & IIR_NO_INT == 0);
    }
}

impl MmioOps for Serial {
    fn mmio_read(&self, _: &MemoryRegion, offset: u64, _: u32) -> u64 {
        let mut regs = self.lock();
        let dlab = regs.lcr & LCR_DLAB != 0;
        let value = match offset {
            0 if dlab => regs.divider as u8,
            0 => {
                let byte = regs.rx.pop_front().unwrap_or(0);
                if regs.rx.is_empty() {
                    regs.lsr &= !LSR_DR;
                }
                byte
            }
            1 if dlab => (regs.divider >> 8) as u8,
            1 => regs.ier,
            2 => {
                let iir = regs.iir();
                // Reading IIR acknowledges a THR-empty interrupt.
                if iir & 0x0f == IIR_THRI {
                    regs.thr_ipending = false;
                }
                iir
            }
            3 => regs.lcr,
            4 => regs.mcr,
            5 => {
                let lsr = regs.lsr;
                // Error bits clear on read.
                regs.lsr &= !(LSR_OE | LSR_BI_FE_PE);
                lsr
            }
            6 => regs.msr,
            _ => regs.scr,
        };
        self.update_irq(&regs);
        value.into()
    }

    fn mmio_write(&self, _: &MemoryRegion, offset: u64, _: u32, value: u64) {
        let value = value as u8;
        let mut regs = self.lock();
        let dlab = regs.lcr & LCR_DLAB != 0;
        match offset {
            0 if dlab => regs.divider = (regs.divider & 0xff00) | u16::from(value),
            0 => {
                regs.thr_ipending = false;
                self.backend
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .write(&[value]);
                // Sent at once: THR is empty again.
                regs.lsr |= LSR_THRE | LSR_TEMT;
                regs.thr_ipending = true;
            }
            1 if dlab => regs.divider = (regs.divider & 0x00ff) | u16::from(value) << 8,
            1 => {
                let newly_thri = value & IER_THRI != 0 && regs.ier & IER_THRI == 0;
                regs.ier = value & 0x0f;
                // QEMU raises THRI when it is enabled while THR is empty.
                if newly_thri && regs.lsr & LSR_THRE != 0 {
                    regs.thr_ipending = true;
                }
            }
            2 => {
                regs.fcr = value & 0xc9;
                if value & 0x02 != 0 {
                    regs.rx.clear();
                    regs.lsr &= !LSR_DR;
                }
            }
            3 => regs.lcr = value,
            4 => regs.mcr = value & 0x1f,
            5 | 6 => {}
            _ => regs.scr = value,
        }
        self.update_irq(&regs);
    }
}

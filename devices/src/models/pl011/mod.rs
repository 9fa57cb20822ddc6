//! ARM PrimeCell UART (PL011) registers, after QEMU's `hw/char/pl011.c`.
//!
//! The register window is 4 KiB of 32-bit registers. What the model does:
//!
//! * a receive FIFO of [`FIFO_DEPTH`] entries while `LCR_H.FEN` is set, a
//!   single holding register otherwise; toggling `FEN` empties it;
//! * `FR` reports `RXFE`/`RXFF` from the receive FIFO; transmission is
//!   instantaneous, so `TXFE` is always set and `TXFF` never is;
//! * a write to `DR` hands the byte to the character backend
//!   ([`Pl011Regs::set_backend`]) and raises the TX interrupt; `ICR` is
//!   write-1-to-clear; `FR`, `RIS`, `MIS` and the ID registers ignore writes;
//! * loopback (`CR.LBE`): transmitted bytes and breaks go to the receive
//!   FIFO, modem control outputs appear as modem status inputs, and input
//!   from the backend is ignored — all as QEMU does.
//!
//! Where this model differs from QEMU, and why:
//!
//! * **Overrun.** QEMU's character layer asks `can_receive` first, so its
//!   FIFO never overflows. [`Pl011Regs::receive`] can be called with a full
//!   FIFO; then the byte is dropped as the TRM describes: `RSR.OE` (sticky
//!   until a write to `ECR`) and `RIS.OE` are set, and the next byte that
//!   enters the FIFO carries `DR.OE`. [`Pl011Regs::can_receive`] is there for
//!   callers that want QEMU's flow control instead.
//! * **Not modelled, as in QEMU:** the receive timeout interrupt (`RT`, no
//!   character timing), FIFO trigger levels (`IFLS` is stored, but the RX
//!   interrupt fires at one character as QEMU and Linux expect), the enable
//!   bits `UARTEN`/`TXE`/`RXE` (QEMU only logs a guest error; so do we, as a
//!   `debug` event), baud-rate timing, IrDA and DMA.
//! * **Narrow accesses** (1 or 2 bytes) go to the register holding their
//!   offset, unshifted, as QEMU 7.2 does (`pl011_read` switches on
//!   `offset >> 2`): a read returns the register's low bytes, a write sets
//!   the register to the narrow value. A byte read at `0xfe1` is
//!   `PeriphID0`, not the second byte of it. 8-byte accesses are split
//!   into two 4-byte ones by the memory core, as in QEMU.
//! * Only the ARM identification bytes are provided, not the Luminary ones.

use super::{lock, read_sized, write_sized};
use qom_rt::migration::{MigrateField, Value, VmState};
use std::sync::{Arc, Mutex};

mod state;
#[cfg(test)]
mod tests;

pub use state::Pl011State;

/// Receive FIFO depth while FIFOs are enabled (`LCR_H.FEN`).
pub const FIFO_DEPTH: usize = 16;

/// Identification bytes read at [`PERIPH_ID0`]..=`0xffc` (ARM's PL011).
pub const ID_BYTES: [u8; 8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Data register.
pub const DR: u64 = 0x00;
/// Receive status register (read) / error clear register (write).
pub const RSR: u64 = 0x04;
/// Flag register.
pub const FR: u64 = 0x18;
/// IrDA low-power counter register.
pub const ILPR: u64 = 0x20;
/// Integer baud rate divisor.
pub const IBRD: u64 = 0x24;
/// Fractional baud rate divisor.
pub const FBRD: u64 = 0x28;
/// Line control register.
pub const LCR_H: u64 = 0x2c;
/// Control register.
pub const CR: u64 = 0x30;
/// Interrupt FIFO level select.
pub const IFLS: u64 = 0x34;
/// Interrupt mask set/clear.
pub const IMSC: u64 = 0x38;
/// Raw interrupt status.
pub const RIS: u64 = 0x3c;
/// Masked interrupt status.
pub const MIS: u64 = 0x40;
/// Interrupt clear (write 1 to clear).
pub const ICR: u64 = 0x44;
/// DMA control register.
pub const DMACR: u64 = 0x48;
/// First identification register (`UARTPeriphID0`).
pub const PERIPH_ID0: u64 = 0xfe0;

/// `FR`: transmit FIFO empty.
pub const FR_TXFE: u32 = 1 << 7;
/// `FR`: receive FIFO full.
pub const FR_RXFF: u32 = 1 << 6;
/// `FR`: transmit FIFO full.
pub const FR_TXFF: u32 = 1 << 5;
/// `FR`: receive FIFO empty.
pub const FR_RXFE: u32 = 1 << 4;
const FR_RI: u32 = 1 << 8;
const FR_DCD: u32 = 1 << 2;
const FR_DSR: u32 = 1 << 1;
const FR_CTS: u32 = 1 << 0;

/// `DR` (read): break error.
pub const DR_BE: u32 = 1 << 10;
/// `DR` (read): overrun error.
pub const DR_OE: u32 = 1 << 11;
/// `RSR`: overrun error.
pub const RSR_OE: u32 = 1 << 3;

/// Interrupt bit: overrun error.
pub const INT_OE: u32 = 1 << 10;
/// Interrupt bit: receive timeout (never raised, see the module docs).
pub const INT_RT: u32 = 1 << 6;
/// Interrupt bit: transmit.
pub const INT_TX: u32 = 1 << 5;
/// Interrupt bit: receive.
pub const INT_RX: u32 = 1 << 4;
const INT_DSR: u32 = 1 << 3;
const INT_DCD: u32 = 1 << 2;
const INT_CTS: u32 = 1 << 1;
const INT_RI: u32 = 1 << 0;
/// Every interrupt bit: what the combined `UARTINTR` output ORs.
pub const INT_ALL: u32 = 0x7ff;

/// `LCR_H`: FIFO enable.
pub const LCR_FEN: u32 = 1 << 4;
/// `LCR_H`: send break.
pub const LCR_BRK: u32 = 1 << 0;

/// `CR`: UART enable.
pub const CR_UARTEN: u32 = 1 << 0;
/// `CR`: loopback enable.
pub const CR_LBE: u32 = 1 << 7;
/// `CR`: transmit enable.
pub const CR_TXE: u32 = 1 << 8;
/// `CR`: receive enable.
pub const CR_RXE: u32 = 1 << 9;
const CR_DTR: u32 = 1 << 10;
const CR_RTS: u32 = 1 << 11;
const CR_OUT1: u32 = 1 << 12;
const CR_OUT2: u32 = 1 << 13;

const IBRD_MASK: u32 = 0xffff;
const FBRD_MASK: u32 = 0x3f;

/// Where transmitted bytes go: the character backend.
pub type Backend = Box<dyn Fn(u8) + Send + Sync>;

/// The backend as the UART holds it: shared, so a transmit can call it
/// after releasing the lock.
type SharedBackend = Arc<dyn Fn(u8) + Send + Sync>;

/// The PL011 register file. Cheap to share: all methods take `&self`.
pub struct Pl011Regs {
    state: Mutex<Pl011State>,
    backend: Mutex<Option<SharedBackend>>,
}

impl Default for Pl011Regs {
    fn default() -> Self {
        Self::new()
    }
}

impl Pl011Regs {
    /// A UART with its reset values and no backend (output is dropped).
    pub fn new() -> Self {
        Pl011Regs {
            state: Mutex::new(Pl011State::new()),
            backend: Mutex::new(None),
        }
    }

    /// Cold reset: every register to its reset value, the FIFO emptied. The
    /// backend stays connected.
    pub fn reset(&self) {
        *lock(&self.state) = Pl011State::new();
        tracing::trace!(target: "pl011", "reset");
    }

    /// Connects the character backend that receives transmitted bytes. It
    /// is called without any lock held, so it may call back into the UART
    /// (for instance [`Pl011Regs::receive`]).
    pub fn set_backend(&self, backend: Backend) {
        *lock(&self.backend) = Some(Arc::from(backend));
    }

    /// Disconnects the backend: transmitted bytes are dropped.
    pub fn clear_backend(&self) {
        *lock(&self.backend) = None;
    }

    /// A guest read of `size` bytes at `offset` in the 4 KiB window.
    pub fn read(&self, offset: u64, size: u32) -> u64 {
        let mut state = lock(&self.state);
        if matches!(size, 1 | 2) {
            return u64::from(state.read(offset & !3)) & ((1 << (8 * size)) - 1);
        }
        read_sized(offset, size, 4, |reg| u64::from(state.read(reg)))
    }

    /// A guest write of `size` bytes at `offset` in the 4 KiB window.
    pub fn write(&self, offset: u64, size: u32, value: u64) {
        let mut sent = None;
        {
            let mut state = lock(&self.state);
            if matches!(size, 1 | 2) {
                let narrow = (value & ((1 << (8 * size)) - 1)) as u32;
                sent = state.write(offset & !3, narrow);
            } else {
                write_sized(offset, size, value, 4, |reg, v| {
                    // Registers are 32 bits wide: the upper half is never set.
                    if let Some(byte) = state.write(reg, v as u32) {
                        sent = Some(byte);
                    }
                });
            }
        }
        if let Some(byte) = sent {
            self.transmit(byte);
        }
    }

    /// Level of the combined interrupt output `UARTINTR`: any raw interrupt
    /// that is also enabled in `IMSC`.
    pub fn irq_level(&self) -> bool {
        lock(&self.state).masked() != 0
    }

    /// A byte arriving on the receive line. Ignored in loopback mode; with
    /// a full FIFO it is an overrun (see the module documentation).
    pub fn receive(&self, byte: u8) {
        let mut state = lock(&self.state);
        if state.cr & CR_LBE != 0 {
            tracing::trace!(target: "pl011", byte, "input ignored in loopback mode");
            return;
        }
        state.put_fifo(u32::from(byte));
    }

    /// A break condition on the receive line: a break character enters the
    /// FIFO (QEMU's `CHR_EVENT_BREAK`). Ignored in loopback mode.
    pub fn receive_break(&self) {
        let mut state = lock(&self.state);
        if state.cr & CR_LBE == 0 {
            state.put_fifo(DR_BE);
        }
    }

    /// Free entries in the receive FIFO (QEMU's `pl011_can_receive`):
    /// a caller that only sends this many bytes never causes an overrun.
    pub fn can_receive(&self) -> usize {
        let state = lock(&self.state);
        state.fifo_depth() - state.read_count
    }

    fn transmit(&self, byte: u8) {
        let backend = lock(&self.backend).clone();
        if let Some(backend) = backend {
            backend(byte);
        }
    }
}

/// The registers migrate; the backend does not (the destination's machine
/// connects its own).
impl MigrateField for Pl011Regs {
    type Value = Pl011State;

    fn save(&self) -> Value {
        lock(&self.state).to_value()
    }

    fn restore(&self, value: Pl011State) {
        *lock(&self.state) = value;
    }
}

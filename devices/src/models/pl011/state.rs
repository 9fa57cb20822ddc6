//! The PL011 registers and what accesses do to them (QEMU's `pl011_read`,
//! `pl011_write`, `pl011_put_fifo`).

use super::*;
use qom_rt::migration::VmState;

/// The registers, as QEMU's `PL011State` holds them and as they migrate:
/// QEMU's `vmstate_pl011` fields in its order (without `readbuff`, which
/// QEMU never used), then `overrun`, added in version 2 of the `pl011`
/// state. A version-1 stream leaves `overrun` clear: the next byte after
/// an overrun from before the switch does not carry `DR.OE`.
#[derive(Clone, VmState)]
#[migrate(check = Pl011State::check_loaded)]
pub struct Pl011State {
    flags: u32,
    lcr: u32,
    rsr: u32,
    pub(super) cr: u32,
    dmacr: u32,
    int_enabled: u32,
    int_level: u32,
    read_fifo: [u32; FIFO_DEPTH],
    ilpr: u32,
    ibrd: u32,
    fbrd: u32,
    ifl: u32,
    read_pos: usize,
    pub(super) read_count: usize,
    read_trigger: usize,
    /// An overrun happened; the next byte stored carries `DR.OE`.
    #[migrate(since = 2)]
    overrun: bool,
}

impl Pl011State {
    pub(super) fn new() -> Self {
        let mut state = Pl011State {
            flags: 0,
            lcr: 0,
            rsr: 0,
            cr: CR_RXE | CR_TXE,
            dmacr: 0,
            int_enabled: 0,
            int_level: 0,
            read_fifo: [0; FIFO_DEPTH],
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            ifl: 0x12,
            read_pos: 0,
            read_count: 0,
            read_trigger: 1,
            overrun: false,
        };
        state.reset_rx_fifo();
        state.reset_tx_fifo();
        state
    }

    /// QEMU's `pl011_post_load`, run on a decoded state before anything
    /// is applied: the FIFO positions must index the FIFO (a stream that
    /// says otherwise is refused), and with FIFOs disabled the one
    /// character is moved to element 0 (older QEMUs left it anywhere).
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if self.read_pos >= FIFO_DEPTH || self.read_count > FIFO_DEPTH {
            return Err(format!(
                "read_pos {} and read_count {} do not fit the {FIFO_DEPTH}-entry FIFO",
                self.read_pos, self.read_count
            ));
        }
        if self.lcr & LCR_FEN == 0 {
            if self.read_count > 1 {
                return Err(format!(
                    "with FIFOs disabled the UART holds one character, the stream has {}",
                    self.read_count
                ));
            }
            if self.read_count > 0 {
                self.read_fifo[0] = self.read_fifo[self.read_pos];
            }
            self.read_pos = 0;
        }
        Ok(())
    }

    pub(super) fn masked(&self) -> u32 {
        self.int_level & self.int_enabled & INT_ALL
    }

    pub(super) fn fifo_depth(&self) -> usize {
        if self.lcr & LCR_FEN != 0 {
            FIFO_DEPTH
        } else {
            1
        }
    }

    fn reset_rx_fifo(&mut self) {
        self.read_count = 0;
        self.read_pos = 0;
        self.flags = (self.flags & !FR_RXFF) | FR_RXFE;
    }

    fn reset_tx_fifo(&mut self) {
        self.flags = (self.flags & !FR_TXFF) | FR_TXFE;
    }

    /// QEMU's `pl011_put_fifo`, plus overrun when the FIFO is full.
    pub(super) fn put_fifo(&mut self, mut value: u32) {
        let depth = self.fifo_depth();
        if self.read_count >= depth {
            self.rsr |= RSR_OE;
            self.int_level |= INT_OE;
            self.overrun = true;
            tracing::debug!(target: "pl011", value, "receive overrun, byte dropped");
            return;
        }
        if std::mem::take(&mut self.overrun) {
            value |= DR_OE;
        }
        let slot = (self.read_pos + self.read_count) & (depth - 1);
        self.read_fifo[slot] = value;
        self.read_count += 1;
        self.flags &= !FR_RXFE;
        tracing::trace!(target: "pl011", value, read_count = self.read_count, "put fifo");
        if self.read_count == depth {
            self.flags |= FR_RXFF;
            tracing::trace!(target: "pl011", "receive fifo full");
        }
        if self.read_count == self.read_trigger {
            self.int_level |= INT_RX;
        }
    }

    /// QEMU's `pl011_read_rxdata`: pops the FIFO (an empty FIFO returns the
    /// last character again).
    fn read_data(&mut self) -> u32 {
        let depth = self.fifo_depth();
        self.flags &= !FR_RXFF;
        let c = self.read_fifo[self.read_pos];
        if self.read_count > 0 {
            self.read_count -= 1;
            self.read_pos = (self.read_pos + 1) & (depth - 1);
        }
        if self.read_count == 0 {
            self.flags |= FR_RXFE;
        }
        if self.read_count + 1 == self.read_trigger {
            self.int_level &= !INT_RX;
        }
        self.rsr = (c >> 8) | (self.rsr & RSR_OE);
        tracing::trace!(target: "pl011", read_count = self.read_count, "read fifo");
        c
    }

    pub(super) fn read(&mut self, reg: u64) -> u32 {
        let value = match reg {
            DR => self.read_data(),
            RSR => self.rsr,
            FR => self.flags,
            ILPR => self.ilpr,
            IBRD => self.ibrd,
            FBRD => self.fbrd,
            LCR_H => self.lcr,
            CR => self.cr,
            IFLS => self.ifl,
            IMSC => self.int_enabled,
            RIS => self.int_level,
            MIS => self.int_level & self.int_enabled,
            DMACR => self.dmacr,
            PERIPH_ID0..=0xffc => u32::from(ID_BYTES[((reg - PERIPH_ID0) >> 2) as usize]),
            _ => {
                tracing::debug!(target: "pl011", offset = reg, "read: bad offset");
                0
            }
        };
        tracing::trace!(target: "pl011", offset = reg, value, reg = reg_name(reg), "read");
        value
    }

    /// A whole-register write; returns the byte to transmit, if any.
    pub(super) fn write(&mut self, reg: u64, value: u32) -> Option<u8> {
        tracing::trace!(target: "pl011", offset = reg, value, reg = reg_name(reg), "write");
        match reg {
            DR => return Some(self.write_data(value as u8)),
            RSR => self.rsr = 0,
            ILPR => self.ilpr = value,
            IBRD => {
                self.ibrd = value & IBRD_MASK;
                self.trace_divisors();
            }
            FBRD => {
                self.fbrd = value & FBRD_MASK;
                self.trace_divisors();
            }
            LCR_H => self.write_lcr(value),
            CR => {
                self.cr = value;
                self.loopback_modem_control();
            }
            IFLS => {
                self.ifl = value;
                self.read_trigger = 1;
            }
            IMSC => self.int_enabled = value,
            ICR => self.int_level &= !value,
            DMACR => {
                self.dmacr = value;
                if value & 3 != 0 {
                    tracing::debug!(target: "pl011", value, "DMA not implemented");
                }
            }
            FR | RIS | MIS | PERIPH_ID0..=0xffc => {
                tracing::debug!(target: "pl011", offset = reg, "write to read-only register ignored");
            }
            _ => tracing::debug!(target: "pl011", offset = reg, "write: bad offset"),
        }
        None
    }

    fn write_data(&mut self, byte: u8) -> u8 {
        if self.cr & CR_UARTEN == 0 {
            tracing::debug!(target: "pl011", "data written to disabled UART");
        }
        if self.cr & CR_TXE == 0 {
            tracing::debug!(target: "pl011", "data written to disabled TX UART");
        }
        if self.cr & CR_LBE != 0 {
            self.put_fifo(u32::from(byte));
        }
        self.int_level |= INT_TX;
        byte
    }

    fn write_lcr(&mut self, value: u32) {
        let changed = self.lcr ^ value;
        if changed & LCR_FEN != 0 {
            self.reset_rx_fifo();
            self.reset_tx_fifo();
        }
        if changed & LCR_BRK != 0 {
            let enable = value & LCR_BRK != 0;
            tracing::trace!(target: "pl011", enable, "send break");
            if enable && self.cr & CR_LBE != 0 {
                self.put_fifo(DR_BE);
            }
        }
        self.lcr = value;
        self.read_trigger = 1;
    }

    /// In loopback mode the modem control outputs drive the modem status
    /// inputs: `FR` and the modem status interrupts follow `CR`.
    fn loopback_modem_control(&mut self) {
        if self.cr & CR_LBE == 0 {
            return;
        }
        let pairs = [
            (CR_OUT2, FR_RI, INT_RI),
            (CR_OUT1, FR_DCD, INT_DCD),
            (CR_RTS, FR_CTS, INT_CTS),
            (CR_DTR, FR_DSR, INT_DSR),
        ];
        for (control, flag, interrupt) in pairs {
            let on = self.cr & control != 0;
            self.flags = if on {
                self.flags | flag
            } else {
                self.flags & !flag
            };
            self.int_level = if on {
                self.int_level | interrupt
            } else {
                self.int_level & !interrupt
            };
        }
    }

    fn trace_divisors(&self) {
        tracing::trace!(target: "pl011", ibrd = self.ibrd, fbrd = self.fbrd, "baud rate divisors changed");
    }
}

/// The register's name, for traces (QEMU's `pl011_regname`).
fn reg_name(reg: u64) -> &'static str {
    match reg {
        DR => "DR",
        RSR => "RSR",
        FR => "FR",
        ILPR => "ILPR",
        IBRD => "IBRD",
        FBRD => "FBRD",
        LCR_H => "LCRH",
        CR => "CR",
        IFLS => "IFLS",
        IMSC => "IMSC",
        RIS => "RIS",
        MIS => "MIS",
        ICR => "ICR",
        DMACR => "DMACR",
        PERIPH_ID0..=0xffc => "ID",
        _ => "UNKN",
    }
}

//! ARM SP804 dual-input timer registers, after QEMU's `hw/timer/arm_timer.c`.
//!
//! Two identical down-counters, timer 0 at offset `0x00` and timer 1 at
//! `0x20`, each with `Load`, `Value`, `Control`, `IntClr`, `RIS`, `MIS` and
//! `BGLoad`; the identification registers are at `0xfe0..=0xffc`.
//!
//! Time is the deterministic virtual clock: it moves only when the caller
//! says so with [`Sp804Regs::advance`], like qtest's `clock_step`. Each
//! timer counts at its own input frequency (default [`DEFAULT_FREQ_HZ`], as
//! QEMU's `freq0`/`freq1` properties), divided by the prescaler. Sub-tick
//! remainders are kept exactly, so many small steps equal one large step.
//!
//! Counting follows QEMU (`ptimer` with the legacy policy):
//!
//! * the counter decrements once per tick; on reaching zero it raises the
//!   interrupt and then, in the same tick, reloads: from `Load` in periodic
//!   mode, from the maximum (`0xffff` or `0xffff_ffff`) in free-running mode,
//!   or stops at zero in one-shot mode — so a period is `Load` ticks;
//! * writing `Load` loads the counter at once (even while disabled) and
//!   restarts the current tick — and, as the TRM says, restarts a one-shot
//!   counter halted at zero (QEMU leaves it halted until `Control` is
//!   written); `BGLoad` changes only the next reload;
//! * a `Control` write with `ENABLE` set (re)starts the counter from the
//!   reload value; clearing `ENABLE` freezes it;
//! * starting, or loading while running, with a zero reload value raises
//!   the interrupt immediately and stops the counter;
//! * `IntClr` clears the raw interrupt; `MIS` is `RIS` masked by `Control.IE`.
//!
//! Differences from QEMU: in 16-bit mode the counter is 16 bits wide in
//! every mode (QEMU narrows only the free-running wrap value), as the TRM
//! says; `Value` resets to `0xffff_ffff` (the TRM value; QEMU reads 0
//! before the first load); the prescaler divides the input frequency
//! exactly instead of by an integer shift of it. Integration test registers
//! (`TimerITCR`, `TimerITOP`) read as zero and ignore writes, as in QEMU.
//! Narrow writes go to the whole register with the other byte lanes zero
//! (APB has no byte strobes).

use super::{lock, read_sized, write_sized};
use qom_rt::migration::{MigrateField, Value, VmState};
use std::sync::Mutex;

#[cfg(test)]
mod tests;

/// Input clock of each timer unless set otherwise (1 MHz, as in QEMU).
pub const DEFAULT_FREQ_HZ: u32 = 1_000_000;

/// Identification bytes read at [`PERIPH_ID0`]..=`0xffc`.
pub const ID_BYTES: [u8; 8] = [0x04, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Distance between the two timers' register blocks.
pub const TIMER_STRIDE: u64 = 0x20;
/// `TimerXLoad`, relative to the timer's block.
pub const LOAD: u64 = 0x00;
/// `TimerXValue` (read-only), relative to the timer's block.
pub const VALUE: u64 = 0x04;
/// `TimerXControl`, relative to the timer's block.
pub const CONTROL: u64 = 0x08;
/// `TimerXIntClr` (write-only), relative to the timer's block.
pub const INTCLR: u64 = 0x0c;
/// `TimerXRIS`, relative to the timer's block.
pub const RIS: u64 = 0x10;
/// `TimerXMIS`, relative to the timer's block.
pub const MIS: u64 = 0x14;
/// `TimerXBGLoad`, relative to the timer's block.
pub const BGLOAD: u64 = 0x18;
/// Integration test control register (not implemented, reads 0).
pub const ITCR: u64 = 0xf00;
/// Integration test output set register (not implemented, reads 0).
pub const ITOP: u64 = 0xf04;
/// First identification register (`TimerPeriphID0`).
pub const PERIPH_ID0: u64 = 0xfe0;

/// `Control`: one-shot mode (takes precedence over periodic).
pub const CTRL_ONESHOT: u32 = 1 << 0;
/// `Control`: 32-bit counter (16-bit when clear).
pub const CTRL_32BIT: u32 = 1 << 1;
/// `Control`: prescale by 16.
pub const CTRL_DIV16: u32 = 1 << 2;
/// `Control`: prescale by 256.
pub const CTRL_DIV256: u32 = 2 << 2;
/// `Control`: interrupt enable.
pub const CTRL_IE: u32 = 1 << 5;
/// `Control`: periodic mode (free-running when clear).
pub const CTRL_PERIODIC: u32 = 1 << 6;
/// `Control`: timer enable.
pub const CTRL_ENABLE: u32 = 1 << 7;

const NS_PER_SEC: u128 = 1_000_000_000;

/// The dual timer's register file. Cheap to share: all methods take `&self`.
pub struct Sp804Regs {
    timers: Mutex<[Sp804Timer; 2]>,
}

/// One of the two counters (QEMU's `ArmTimerState` and its `ptimer`), as
/// it migrates. QEMU's `arm_timer` state is `control`, `limit`,
/// `int_level` and the ptimer; here the ptimer is `count`, `running` and,
/// since version 2, the sub-tick remainder `pending`; the input clock
/// travels too (in QEMU it is a property both sides set alike).
#[derive(Clone, VmState)]
#[migrate(check = Sp804Timer::check_loaded)]
pub struct Sp804Timer {
    freq: u32,
    control: u32,
    /// The `Load`/`BGLoad` register.
    limit: u32,
    int_level: bool,
    count: u32,
    running: bool,
    /// Elapsed time not yet turned into ticks, in ns × Hz. Added in
    /// version 2 of the `sp804` state: a version-1 stream starts the next
    /// tick afresh (less than a tick of drift).
    #[migrate(since = 2)]
    pending: u128,
}

impl Default for Sp804Regs {
    fn default() -> Self {
        Self::new()
    }
}

impl Sp804Regs {
    /// Both timers at [`DEFAULT_FREQ_HZ`], in their reset state.
    pub fn new() -> Self {
        Self::with_freq(DEFAULT_FREQ_HZ)
    }

    /// Both timers clocked at `hz`, in their reset state.
    pub fn with_freq(hz: u32) -> Self {
        Sp804Regs {
            timers: Mutex::new([Sp804Timer::new(hz), Sp804Timer::new(hz)]),
        }
    }

    /// Changes the input clock of timer `timer` (0 or 1; others are
    /// ignored). A clock of 0 Hz stops the counter.
    pub fn set_freq(&self, timer: usize, hz: u32) {
        if let Some(t) = lock(&self.timers).get_mut(timer) {
            t.freq = hz;
            t.pending = 0;
        }
    }

    /// The input clock of timer `timer` (0 or 1), in Hz.
    pub fn freq(&self, timer: usize) -> Option<u32> {
        lock(&self.timers).get(timer).map(|t| t.freq)
    }

    /// Cold reset of both timers (their frequencies are kept).
    pub fn reset(&self) {
        for t in lock(&self.timers).iter_mut() {
            *t = Sp804Timer::new(t.freq);
        }
        tracing::trace!(target: "sp804", "reset");
    }

    /// A guest read of `size` bytes at `offset` in the 4 KiB window.
    pub fn read(&self, offset: u64, size: u32) -> u64 {
        let timers = lock(&self.timers);
        read_sized(offset, size, 4, |reg| {
            let value = match reg {
                0x00..=0x3f => timers[(reg / TIMER_STRIDE) as usize].read(reg % TIMER_STRIDE),
                PERIPH_ID0..=0xffc => u32::from(ID_BYTES[((reg - PERIPH_ID0) >> 2) as usize]),
                ITCR | ITOP => {
                    tracing::debug!(target: "sp804", offset = reg, "integration test registers unimplemented");
                    0
                }
                _ => {
                    tracing::debug!(target: "sp804", offset = reg, "read: bad offset");
                    0
                }
            };
            tracing::trace!(target: "sp804", offset = reg, value, "read");
            u64::from(value)
        })
    }

    /// A guest write of `size` bytes at `offset` in the 4 KiB window.
    pub fn write(&self, offset: u64, size: u32, value: u64) {
        let mut timers = lock(&self.timers);
        write_sized(offset, size, value, 4, |reg, value| {
            tracing::trace!(target: "sp804", offset = reg, value, "write");
            match reg {
                0x00..=0x3f => {
                    let index = (reg / TIMER_STRIDE) as usize;
                    timers[index].write(index, reg % TIMER_STRIDE, value as u32);
                }
                _ => tracing::debug!(target: "sp804", offset = reg, "write: bad offset"),
            }
        });
    }

    /// Moves virtual time forward by `ns` nanoseconds for both timers.
    pub fn advance(&self, ns: u64) {
        for (index, t) in lock(&self.timers).iter_mut().enumerate() {
            t.advance(index, ns);
        }
    }

    /// The combined interrupt output `TIMINTC`: either timer's masked
    /// interrupt (QEMU's `sp804_set_irq`).
    pub fn irq_level(&self) -> bool {
        lock(&self.timers).iter().any(Sp804Timer::irq_level)
    }

    /// The interrupt output of timer `timer` alone (`TIMINT1` for 0,
    /// `TIMINT2` for 1); false for any other index.
    pub fn timer_irq_level(&self, timer: usize) -> bool {
        lock(&self.timers)
            .get(timer)
            .is_some_and(Sp804Timer::irq_level)
    }
}

/// Both counters migrate.
impl MigrateField for Sp804Regs {
    type Value = [Sp804Timer; 2];

    fn save(&self) -> Value {
        lock(&self.timers).to_value()
    }

    fn restore(&self, value: [Sp804Timer; 2]) {
        *lock(&self.timers) = value;
    }
}

impl Sp804Timer {
    fn new(freq: u32) -> Self {
        Sp804Timer {
            freq,
            control: CTRL_IE,
            limit: 0,
            int_level: false,
            count: u32::MAX,
            running: false,
            pending: 0,
        }
    }

    fn irq_level(&self) -> bool {
        self.int_level && self.control & CTRL_IE != 0
    }

    /// Before anything is applied: the sub-tick remainder is less than a
    /// tick, as `advance` keeps it (a larger one would overflow there).
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        let per_tick = NS_PER_SEC * self.divisor();
        if self.pending >= per_tick {
            return Err(format!(
                "a sub-tick remainder of {} is a tick or more ({per_tick})",
                self.pending
            ));
        }
        Ok(())
    }

    fn counter_mask(&self) -> u32 {
        if self.control & CTRL_32BIT != 0 {
            u32::MAX
        } else {
            0xffff
        }
    }

    /// What the counter reloads from (QEMU's `arm_timer_recalibrate`).
    fn reload_value(&self) -> u32 {
        if self.control & (CTRL_PERIODIC | CTRL_ONESHOT) == 0 {
            self.counter_mask()
        } else {
            self.limit & self.counter_mask()
        }
    }

    fn divisor(&self) -> u128 {
        match (self.control >> 2) & 3 {
            1 => 16,
            2 => 256,
            _ => 1,
        }
    }

    fn read(&self, reg: u64) -> u32 {
        match reg {
            LOAD | BGLOAD => self.limit,
            VALUE => self.count,
            CONTROL => self.control,
            RIS => u32::from(self.int_level),
            MIS => u32::from(self.irq_level()),
            _ => {
                tracing::debug!(target: "sp804", offset = reg, "timer read: bad offset");
                0
            }
        }
    }

    fn write(&mut self, index: usize, reg: u64, value: u32) {
        match reg {
            LOAD => {
                self.limit = value;
                self.count = self.reload_value();
                self.pending = 0;
                // Also restarts a one-shot counter halted at zero (TRM).
                self.running = self.control & CTRL_ENABLE != 0;
                if self.running {
                    self.check_zero_start(index);
                }
            }
            VALUE => {
                tracing::debug!(target: "sp804", timer = index, "write to read-only Value ignored")
            }
            CONTROL => {
                self.control = value;
                self.running = false;
                if value & CTRL_ENABLE != 0 {
                    self.count = self.reload_value();
                    self.pending = 0;
                    self.running = true;
                    self.check_zero_start(index);
                }
            }
            INTCLR => self.int_level = false,
            BGLOAD => self.limit = value,
            _ => {
                tracing::debug!(target: "sp804", timer = index, offset = reg, "timer write: bad offset")
            }
        }
    }

    /// A counter (re)started at zero fires at once and stops.
    fn check_zero_start(&mut self, index: usize) {
        if self.count == 0 {
            self.expire(index);
            self.running = false;
        }
    }

    fn expire(&mut self, index: usize) {
        self.int_level = true;
        tracing::trace!(target: "sp804", timer = index, "expired");
    }

    fn advance(&mut self, index: usize, ns: u64) {
        if !self.running || self.freq == 0 {
            return;
        }
        let per_tick = NS_PER_SEC * self.divisor();
        self.pending += u128::from(ns) * u128::from(self.freq);
        let mut ticks = self.pending / per_tick;
        self.pending %= per_tick;
        while ticks > 0 {
            if ticks < u128::from(self.count) {
                // Fewer ticks than the counter holds: no wrap.
                self.count -= ticks as u32;
                return;
            }
            ticks -= u128::from(self.count);
            self.count = 0;
            self.expire(index);
            if self.control & CTRL_ONESHOT != 0 {
                self.running = false;
                return;
            }
            let reload = self.reload_value();
            self.count = reload;
            if reload == 0 {
                self.running = false;
                return;
            }
            // Whole periods only re-raise the (already raised) interrupt.
            ticks %= u128::from(reload);
        }
    }
}

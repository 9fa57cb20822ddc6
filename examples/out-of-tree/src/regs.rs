//! The register file of QEMU's `edu` (`hw/misc/edu.c`, and
//! `docs/specs/edu.rst`), in plain Rust: no object model here.
//!
//! A factorial is computed when the virtual clock next advances (QEMU's
//! worker thread finishes it some time after the write): the status
//! register's "computing" bit is set meanwhile, and a write of another
//! argument then is ignored, as in QEMU.
//!
//! Differences from QEMU: DMA (0x80-0x98) is not modelled, its registers
//! read as all ones and ignore writes; the interrupt is INTx only, no MSI.

/// Offsets in BAR 0.
pub mod reg {
    /// Identification, read-only: `0xRRrr00ed` (major, minor version).
    pub const ID: u64 = 0x00;
    /// Liveness check: reads back the inverse of what was written.
    pub const LIVENESS: u64 = 0x04;
    /// Factorial: write `n`, read `n!` (mod 2^32).
    pub const FACTORIAL: u64 = 0x08;
    /// Status: [`STATUS_COMPUTING`](super::STATUS_COMPUTING) (read-only)
    /// and [`STATUS_IRQ_FACT`](super::STATUS_IRQ_FACT).
    pub const STATUS: u64 = 0x20;
    /// Interrupt status, read-only: the raised interrupt bits.
    pub const IRQ_STATUS: u64 = 0x24;
    /// Interrupt raise, write-only: ORs the value into the status.
    pub const IRQ_RAISE: u64 = 0x60;
    /// Interrupt acknowledge, write-only: clears the value's bits.
    pub const IRQ_ACK: u64 = 0x64;
}

/// Version 1.0 and the `0xed` signature.
pub const ID_VALUE: u32 = 0x0100_00ed;
/// Status: a factorial is being computed (read-only).
pub const STATUS_COMPUTING: u32 = 0x01;
/// Status: raise [`FACT_IRQ`] when a factorial is done.
pub const STATUS_IRQ_FACT: u32 = 0x80;
/// Interrupt status bit of a finished factorial.
pub const FACT_IRQ: u32 = 0x01;

/// The device's registers, at power-on values by `Default`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EduRegs {
    /// What a liveness read returns: the inverse of the last write.
    liveness: u32,
    /// The factorial's argument, then its result.
    factorial: u32,
    status: u32,
    irq_status: u32,
}

impl EduRegs {
    /// A guest read. Registers below 0x80 are 32 bits wide: other sizes,
    /// and offsets with no register, read as all ones.
    pub fn read(&self, offset: u64, size: u32) -> u64 {
        let all_ones = u64::MAX >> (64 - 8 * size.clamp(1, 8));
        if size != 4 {
            return all_ones;
        }
        let value = match offset {
            reg::ID => ID_VALUE,
            reg::LIVENESS => self.liveness,
            reg::FACTORIAL => self.factorial,
            reg::STATUS => self.status,
            reg::IRQ_STATUS => self.irq_status,
            _ => return all_ones,
        };
        value.into()
    }

    /// A guest write of a 32-bit register (other sizes are ignored).
    pub fn write(&mut self, offset: u64, size: u32, value: u64) {
        if size != 4 {
            return;
        }
        let value = value as u32;
        match offset {
            reg::LIVENESS => self.liveness = !value,
            // `edu_mmio_write`: ignored while a computation runs.
            reg::FACTORIAL if self.status & STATUS_COMPUTING == 0 => {
                self.factorial = value;
                self.status |= STATUS_COMPUTING;
            }
            reg::STATUS => {
                self.status = (self.status & !STATUS_IRQ_FACT) | (value & STATUS_IRQ_FACT);
            }
            reg::IRQ_RAISE => self.irq_status |= value,
            reg::IRQ_ACK => self.irq_status &= !value,
            _ => {}
        }
    }

    /// The virtual clock advanced: a computation in progress finishes
    /// (QEMU's `edu_fact_thread`), raising the interrupt if asked to.
    pub fn advance(&mut self) {
        if self.status & STATUS_COMPUTING == 0 {
            return;
        }
        self.factorial = factorial(self.factorial);
        self.status &= !STATUS_COMPUTING;
        if self.status & STATUS_IRQ_FACT != 0 {
            self.irq_status |= FACT_IRQ;
        }
    }

    /// The interrupt line's level: any interrupt status bit set.
    pub fn irq_level(&self) -> bool {
        self.irq_status != 0
    }
}

/// `n!` modulo 2^32, as QEMU's 32-bit loop computes it. From 34 on the
/// product has at least 32 factors of two, so it is 0: no need to loop
/// four billion times for a large `n`.
fn factorial(n: u32) -> u32 {
    if n >= 34 {
        return 0;
    }
    (1..=n).fold(1u32, |product, k| product.wrapping_mul(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identification_and_liveness() {
        let mut regs = EduRegs::default();
        assert_eq!(regs.read(reg::ID, 4), 0x0100_00ed);
        regs.write(reg::ID, 4, 0);
        assert_eq!(regs.read(reg::ID, 4), 0x0100_00ed, "read-only");
        regs.write(reg::LIVENESS, 4, 0x1234_5678);
        assert_eq!(regs.read(reg::LIVENESS, 4), 0xedcb_a987);
    }

    #[test]
    fn the_factorial_raises_the_interrupt_only_if_asked() {
        let mut regs = EduRegs::default();
        regs.write(reg::FACTORIAL, 4, 5);
        assert_eq!(regs.read(reg::STATUS, 4), 0x01, "computing");
        assert_eq!(regs.read(reg::FACTORIAL, 4), 5, "the argument, meanwhile");
        regs.write(reg::FACTORIAL, 4, 6);
        regs.advance();
        assert_eq!(regs.read(reg::FACTORIAL, 4), 120, "6 was ignored");
        assert_eq!(regs.read(reg::STATUS, 4), 0, "done, no interrupt asked for");
        assert!(!regs.irq_level());

        regs.write(reg::STATUS, 4, 0x81);
        assert_eq!(regs.read(reg::STATUS, 4), 0x80, "COMPUTING is read-only");
        regs.write(reg::FACTORIAL, 4, 12);
        assert!(!regs.irq_level(), "not before it is done");
        regs.advance();
        assert_eq!(regs.read(reg::FACTORIAL, 4), 479_001_600);
        assert_eq!(regs.read(reg::IRQ_STATUS, 4), 0x01);
        assert!(regs.irq_level());
        regs.write(reg::IRQ_ACK, 4, 0x01);
        assert!(!regs.irq_level());
    }

    #[test]
    fn factorials_wrap_like_a_32_bit_loop() {
        let looped = |n: u32| (1..=n).fold(1u32, |p, k| p.wrapping_mul(k));
        for n in 0..40 {
            assert_eq!(factorial(n), looped(n), "{n}!");
        }
        assert_eq!(factorial(u32::MAX), 0);
    }

    #[test]
    fn raise_and_acknowledge_combine_bits() {
        let mut regs = EduRegs::default();
        regs.write(reg::IRQ_RAISE, 4, 0x100);
        regs.write(reg::IRQ_RAISE, 4, 0x001);
        assert_eq!(regs.read(reg::IRQ_STATUS, 4), 0x101);
        regs.write(reg::IRQ_ACK, 4, 0x100);
        assert_eq!(regs.read(reg::IRQ_STATUS, 4), 0x001);
    }

    #[test]
    fn other_sizes_and_offsets_read_as_all_ones() {
        let mut regs = EduRegs::default();
        assert_eq!(regs.read(reg::ID, 8), u64::MAX);
        assert_eq!(regs.read(0x80, 4), 0xffff_ffff, "DMA is not modelled");
        regs.write(reg::LIVENESS, 8, 0);
        assert_eq!(regs, EduRegs::default(), "an 8-byte write is ignored");
    }
}

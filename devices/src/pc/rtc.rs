//! `mc146818rtc`: the RTC and CMOS memory at ports 0x70/0x71 (QEMU
//! `hw/rtc/mc146818rtc.c`), with the bytes `pc_cmos_init` (hw/i386/pc.c)
//! fills for firmware: memory sizes, CPU count, century.
//!
//! The clock is the host's (UTC, QEMU's `-rtc base=utc`), read at each
//! access of a time register, in BCD or binary and 12- or 24-hour form as
//! register B says. Register A reads with UIP clear: an update never
//! appears to be in progress. Not modelled: setting the time (writes to
//! the time registers are kept in CMOS but the clock keeps host time),
//! alarms, periodic and update interrupts (IRQ 8 is never raised; the
//! firmware this board runs polls).
//!
//! The CMOS bytes and the index register migrate (QEMU's
//! `vmstate_rtc_mc146818rtc` carries `cmos_data` and `cmos_index`); the
//! time registers read the host clock on both sides, as QEMU's
//! `base=utc` clock does.

use crate::device::DeviceImpl;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use qom_rt::migration::{MigrationHooks, VmState};
use qom_rt::prelude::*;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Index port.
pub const RTC_BASE: u64 = 0x70;

const REG_A: usize = 0x0a;
const REG_B: usize = 0x0b;
const REG_C: usize = 0x0c;
const REG_D: usize = 0x0d;
const REG_B_24H: u8 = 0x02;
const REG_B_BINARY: u8 = 0x04;
/// `RTC_CENTURY` (0x32, as QEMU's `pc` places it).
const CENTURY: usize = 0x32;

/// The CMOS memory and its index register, as they migrate.
#[derive(Clone, VmState)]
#[migrate(check = Cmos::check_loaded)]
pub struct Cmos {
    index: usize,
    bytes: [u8; 128],
}

impl Cmos {
    /// An index past the 128 bytes would address nothing.
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        match self.index {
            0..128 => Ok(()),
            index => Err(format!("cmos index {index} is past the 128 CMOS bytes")),
        }
    }
}

impl Default for Cmos {
    fn default() -> Self {
        let mut bytes = [0u8; 128];
        // `rtc_reset`/`rtc_realizefn`: 32.768 kHz divider, 1024 Hz rate;
        // 24-hour BCD; valid RAM and time.
        bytes[REG_A] = 0x26;
        bytes[REG_B] = REG_B_24H;
        bytes[REG_D] = 0x80;
        Cmos { index: 0, bytes }
    }
}

/// The RTC (`"mc146818rtc"`).
#[derive(QomObject)]
#[qom(name = "mc146818rtc", interfaces(MmioOps))]
#[migrate(version = 1, min_version = 0)]
pub struct Rtc {
    parent: ParentField<crate::Device>,
    /// Index (0x70) and data (0x71) ports.
    #[child(embedded)]
    pub io: MemoryRegion,
    #[migrate]
    cmos: Mutex<Cmos>,
}

/// Nothing is derived from the CMOS bytes.
impl MigrationHooks for Rtc {}

impl ObjectImpl for Rtc {
    fn init(&self) {
        self.io
            .init_io("rtc", 2, Sizes::ANY, Sizes { min: 1, max: 1 });
    }
}

impl DeviceImpl for Rtc {
    const DESCRIPTION: &'static str = "MC146818 RTC and CMOS memory";
}

impl Rtc {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cmos> {
        self.cmos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets CMOS byte `index` (board setup: `rtc_set_memory`).
    pub fn set_byte(&self, index: usize, value: u8) {
        if let Some(byte) = self.lock().bytes.get_mut(index) {
            *byte = value;
        }
    }

    /// CMOS byte `index` as the guest reads it.
    pub fn byte(&self, index: usize) -> u8 {
        let cmos = self.lock();
        read_register(&cmos, index & 0x7f, now_utc())
    }

    /// The memory-size bytes `pc_cmos_init` writes for `ram_below_4g` and
    /// `ram_above_4g` bytes of RAM and `cpus` CPUs.
    pub fn set_memory_config(&self, ram_below_4g: u64, ram_above_4g: u64, cpus: u8) {
        let kib = |v: u64| v / 1024;
        // Base memory: 640 KiB.
        self.set_word(0x15, 640);
        // Extended memory above 1 MiB in KiB, at most 0xffff.
        let ext = kib(ram_below_4g).saturating_sub(1024).min(0xffff) as u16;
        self.set_word(0x17, ext);
        self.set_word(0x30, ext);
        // Above 16 MiB in 64 KiB units.
        let above_16m = ram_below_4g.saturating_sub(16 << 20) / 65536;
        self.set_word(0x34, above_16m.min(0xffff) as u16);
        // Above 4 GiB in 64 KiB units, three bytes.
        let high = ram_above_4g / 65536;
        self.set_byte(0x5b, high as u8);
        self.set_byte(0x5c, (high >> 8) as u8);
        self.set_byte(0x5d, (high >> 16) as u8);
        // `smp_cpus - 1`, read by SeaBIOS's `smp_setup`.
        self.set_byte(0x5f, cpus.saturating_sub(1));
    }

    fn set_word(&self, index: usize, value: u16) {
        self.set_byte(index, value as u8);
        self.set_byte(index + 1, (value >> 8) as u8);
    }
}

/// Seconds since the epoch, UTC.
fn now_utc() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn read_register(cmos: &Cmos, index: usize, now: u64) -> u8 {
    let reg_b = cmos.bytes[REG_B];
    let encode = |v: u32| -> u8 {
        if reg_b & REG_B_BINARY != 0 {
            v as u8
        } else {
            ((v / 10) << 4 | (v % 10)) as u8
        }
    };
    let days = (now / 86_400) as i64;
    let secs = (now % 86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    match index {
        0x00 => encode(secs % 60),
        0x02 => encode(secs / 60 % 60),
        0x04 => {
            let hour = secs / 3600;
            if reg_b & REG_B_24H != 0 {
                encode(hour)
            } else {
                // 12-hour form: 12, 1..11, PM in bit 7.
                let h12 = if hour.is_multiple_of(12) {
                    12
                } else {
                    hour % 12
                };
                encode(h12) | if hour >= 12 { 0x80 } else { 0 }
            }
        }
        // 1970-01-01 was a Thursday; Sunday is 1.
        0x06 => encode(((days + 4).rem_euclid(7) + 1) as u32),
        0x07 => encode(day),
        0x08 => encode(month),
        0x09 => encode((year % 100) as u32),
        CENTURY => encode((year / 100) as u32),
        // UIP (bit 7) reads clear.
        REG_A => cmos.bytes[REG_A] & 0x7f,
        _ => cmos.bytes[index],
    }
}

impl MmioOps for Rtc {
    fn mmio_read(&self, _: &MemoryRegion, offset: u64, _: u32) -> u64 {
        if offset == 0 {
            // The index port is write-only: QEMU reads 0xff.
            return 0xff;
        }
        let mut cmos = self.lock();
        let index = cmos.index;
        let value = read_register(&cmos, index, now_utc());
        if index == REG_C {
            // Reading C acknowledges every interrupt flag.
            cmos.bytes[REG_C] = 0;
        }
        value.into()
    }

    fn mmio_write(&self, _: &MemoryRegion, offset: u64, _: u32, value: u64) {
        let mut cmos = self.lock();
        let value = value as u8;
        if offset == 0 {
            // Bit 7 is the NMI mask, not part of the index.
            cmos.index = usize::from(value & 0x7f);
            return;
        }
        let index = cmos.index;
        match index {
            // C and D are read-only.
            REG_C | REG_D => {}
            // UIP is read-only.
            REG_A => cmos.bytes[REG_A] = value & 0x7f,
            _ => cmos.bytes[index] = value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2024-02-29 is day 19782.
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn time_registers_in_bcd_and_binary() {
        let mut cmos = Cmos::default();
        // 2023-04-11 13:45:07 UTC, a Tuesday.
        let t = 1_681_220_707;
        assert_eq!(read_register(&cmos, 0x00, t), 0x07);
        assert_eq!(read_register(&cmos, 0x04, t), 0x13);
        assert_eq!(read_register(&cmos, 0x06, t), 0x03);
        assert_eq!(read_register(&cmos, 0x09, t), 0x23);
        assert_eq!(read_register(&cmos, CENTURY, t), 0x20);
        cmos.bytes[REG_B] = REG_B_BINARY;
        assert_eq!(read_register(&cmos, 0x04, t), 0x81, "1 PM, 12-hour form");
        assert_eq!(read_register(&cmos, 0x08, t), 4);
    }
}

//! Two interfaces defined in this crate, so that the cases (each its own
//! crate) list interfaces of another crate, as a device crate lists the
//! device library's `MmioOps` and `Clocked`.

/// Something that beeps.
#[qom_rt::interface]
pub trait Beep {
    /// The pitch, in Hz.
    fn pitch(&self) -> u32;
}

/// Something that blinks.
#[qom_rt::interface]
pub trait Blink {
    /// The period, in ms.
    fn period(&self) -> u32;
}

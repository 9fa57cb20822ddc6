//! USB host controllers, in the two shapes the design document cares about:
//!
//! * `xhci-pci` *embeds* its controller state (`xhci`), which owns the
//!   memory region of BAR 0 — QEMU's `XHCIPciState`/`XHCIState`, the shape
//!   whose hot-unplug was a use-after-free in C;
//! * `piix3` (a PIIX-style south bridge) holds its UHCI companion as an
//!   *owned* child in its own allocation.
//!
//! Register behaviour lives in [`crate::models::xhci`] and
//! [`crate::models::uhci`]; the QOM types, with their data paths to guest
//! memory and their USB buses, in [`super::xhci`] and [`super::uhci`].

pub use super::uhci::{Piix3, PiixUhci};
pub use super::xhci::{QemuXhci, XhciPci, XhciState};

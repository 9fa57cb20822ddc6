//! Device models: QOM types wrapping the register logic in `models`.

pub mod pl011;
pub mod soc;
pub mod sp804;
pub mod uhci;
pub mod usb;
pub mod xhci;

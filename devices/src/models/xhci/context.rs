//! Device slots and endpoints: the controller's own state for each, and
//! the slot and endpoint contexts in guest memory (xHCI 1.2 section 6.2,
//! 32-byte contexts as `HCCPARAMS1.CSZ = 0` says). The output device
//! context of slot n is at `DCBAA[n]`; an input context starts with the
//! input control context (drop flags, add flags), then the slot context,
//! then endpoint contexts by DCI.

use super::ring::Ring;
use super::XhciBus;

/// Size of one context.
pub const CONTEXT_SIZE: u64 = 32;
/// Endpoint context indexes (DCI) 1..=31; 0 is the slot context.
pub const MAX_DCI: usize = 31;

/// Slot state (slot context dword 3, bits 27-31).
pub mod slot_state {
    /// Disabled or enabled.
    pub const ENABLED: u32 = 0;
    /// Default (addressed with BSR).
    pub const DEFAULT: u32 = 1;
    /// Addressed.
    pub const ADDRESSED: u32 = 2;
    /// Configured.
    pub const CONFIGURED: u32 = 3;
}

/// Endpoint state (endpoint context dword 0, bits 0-2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EpState {
    /// Not configured.
    #[default]
    Disabled = 0,
    /// Doorbells run it.
    Running = 1,
    /// Stopped by STALL or error until Reset Endpoint.
    Halted = 2,
    /// Stopped by Stop Endpoint.
    Stopped = 3,
}

/// Endpoint type (endpoint context dword 1, bits 3-5).
pub mod ep_type {
    /// Bulk OUT.
    pub const BULK_OUT: u32 = 2;
    /// Interrupt OUT.
    pub const INTERRUPT_OUT: u32 = 3;
    /// Control, bidirectional.
    pub const CONTROL: u32 = 4;
    /// Bulk IN.
    pub const BULK_IN: u32 = 6;
    /// Interrupt IN.
    pub const INTERRUPT_IN: u32 = 7;
}

/// The controller's state of one endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Endpoint {
    pub(super) state: EpState,
    pub(super) kind: u32,
    pub(super) ring: Ring,
    /// A TD was NAKed: retry it when the device wakes up.
    pub(super) waiting: bool,
}

/// The controller's state of one device slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) enabled: bool,
    /// The root port (0-based) the slot context names, once addressed.
    pub(super) port: Option<usize>,
    pub(super) endpoints: [Endpoint; MAX_DCI + 1],
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            enabled: false,
            port: None,
            endpoints: [Endpoint::default(); MAX_DCI + 1],
        }
    }
}

/// Eight dwords of a context.
pub(super) type Context = [u32; 8];

/// Reads the context at `addr`.
pub(super) fn read(bus: &dyn XhciBus, addr: u64) -> Result<Context, String> {
    let mut bytes = [0u8; CONTEXT_SIZE as usize];
    bus.dma_read(addr, &mut bytes)?;
    Ok(std::array::from_fn(|i| {
        u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap_or_default())
    }))
}

/// Writes `ctx` at `addr`.
pub(super) fn write(bus: &dyn XhciBus, addr: u64, ctx: &Context) -> Result<(), String> {
    let bytes: Vec<u8> = ctx.iter().flat_map(|d| d.to_le_bytes()).collect();
    bus.dma_write(addr, &bytes)
}

/// An endpoint context's TR dequeue pointer and cycle state.
pub(super) fn dequeue(ctx: &Context) -> Ring {
    let addr = u64::from(ctx[2]) | (u64::from(ctx[3]) << 32);
    Ring::new(addr, ctx[2] & 1 != 0)
}

/// Stores `ring` and `state` into an endpoint context.
pub(super) fn set_endpoint(ctx: &mut Context, state: EpState, ring: Ring) {
    ctx[0] = (ctx[0] & !0x7) | state as u32;
    ctx[2] = (ring.dequeue as u32 & !0xf) | u32::from(ring.ccs);
    ctx[3] = (ring.dequeue >> 32) as u32;
}

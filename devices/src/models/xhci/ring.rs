//! Producer-consumer rings the driver fills (command and transfer rings,
//! xHCI 1.2 section 4.9): a dequeue pointer and the consumer cycle state,
//! Link TRBs followed (toggling the cycle when asked).

use super::trb::{kind, Trb, LINK_TC};
use super::XhciBus;

/// Most Link TRBs followed in a row before the ring is declared broken
/// (a ring of links only would otherwise spin forever).
const MAX_LINKS: usize = 32;

/// Why a ring could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The TRB's memory could not be read.
    #[error("ring at {addr:#x}: {reason}")]
    Dma {
        /// The TRB address.
        addr: u64,
        /// What the bus said.
        reason: String,
    },
    /// Link after link with no other TRB.
    #[error("ring at {addr:#x}: {MAX_LINKS} Link TRBs in a row")]
    LinkLoop {
        /// Where the chase started.
        addr: u64,
    },
}

/// A ring's consumer state. `Copy`: a caller peeks on a copy and keeps it
/// only once the TRBs it read are consumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ring {
    /// The next TRB to read.
    pub dequeue: u64,
    /// Consumer cycle state: a TRB is the driver's to give while its
    /// cycle bit equals this.
    pub ccs: bool,
}

impl Ring {
    /// A ring whose next TRB is at `dequeue` (16-byte aligned).
    pub fn new(dequeue: u64, ccs: bool) -> Ring {
        Ring {
            dequeue: dequeue & !0xf,
            ccs,
        }
    }

    /// The next TRB and its address, past any Link TRBs; `None` when the
    /// driver has not given one yet (cycle bit mismatch).
    pub fn next(&mut self, bus: &dyn XhciBus) -> Result<Option<(u64, Trb)>, RingError> {
        let start = self.dequeue;
        for _ in 0..MAX_LINKS {
            let addr = self.dequeue;
            let mut bytes = [0u8; 16];
            bus.dma_read(addr, &mut bytes)
                .map_err(|reason| RingError::Dma { addr, reason })?;
            let trb = Trb::from_bytes(&bytes);
            if trb.cycle() != self.ccs {
                return Ok(None);
            }
            if trb.kind() != kind::LINK {
                self.dequeue = addr.wrapping_add(16);
                return Ok(Some((addr, trb)));
            }
            self.dequeue = trb.parameter & !0xf;
            if trb.has(LINK_TC) {
                self.ccs = !self.ccs;
            }
        }
        Err(RingError::LinkLoop { addr: start })
    }
}

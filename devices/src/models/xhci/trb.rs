//! Transfer Request Blocks (xHCI 1.2, section 6.4): the 16-byte unit of
//! every ring, their types, flags and completion codes.

/// One TRB: a 64-bit parameter, a status dword and a control dword whose
/// bit 0 is the cycle bit and bits 10-15 the type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trb {
    /// Pointer, immediate data or command parameter.
    pub parameter: u64,
    /// Length, completion code, interrupter.
    pub status: u32,
    /// Cycle, flags, type, slot and endpoint fields.
    pub control: u32,
}

/// TRB types.
pub mod kind {
    /// Normal (bulk, interrupt, a control data stage's continuation).
    pub const NORMAL: u32 = 1;
    /// Control setup stage.
    pub const SETUP: u32 = 2;
    /// Control data stage.
    pub const DATA: u32 = 3;
    /// Control status stage.
    pub const STATUS: u32 = 4;
    /// Isochronous (not supported).
    pub const ISOCH: u32 = 5;
    /// Link to the next ring segment.
    pub const LINK: u32 = 6;
    /// Event data: report a driver-chosen value.
    pub const EVENT_DATA: u32 = 7;
    /// Transfer no-op.
    pub const NOOP: u32 = 8;
    /// Command: Enable Slot.
    pub const ENABLE_SLOT: u32 = 9;
    /// Command: Disable Slot.
    pub const DISABLE_SLOT: u32 = 10;
    /// Command: Address Device.
    pub const ADDRESS_DEVICE: u32 = 11;
    /// Command: Configure Endpoint.
    pub const CONFIGURE_ENDPOINT: u32 = 12;
    /// Command: Evaluate Context.
    pub const EVALUATE_CONTEXT: u32 = 13;
    /// Command: Reset Endpoint.
    pub const RESET_ENDPOINT: u32 = 14;
    /// Command: Stop Endpoint.
    pub const STOP_ENDPOINT: u32 = 15;
    /// Command: Set TR Dequeue Pointer.
    pub const SET_TR_DEQUEUE: u32 = 16;
    /// Command: Reset Device.
    pub const RESET_DEVICE: u32 = 17;
    /// Command: No Op.
    pub const NOOP_COMMAND: u32 = 23;
    /// Event: Transfer.
    pub const TRANSFER_EVENT: u32 = 32;
    /// Event: Command Completion.
    pub const COMMAND_COMPLETION: u32 = 33;
    /// Event: Port Status Change.
    pub const PORT_STATUS_CHANGE: u32 = 34;
    /// Event: Host Controller.
    pub const HOST_CONTROLLER: u32 = 37;
}

/// Completion codes.
pub mod cc {
    /// Success.
    pub const SUCCESS: u32 = 1;
    /// Data buffer error (a DMA failed).
    pub const DATA_BUFFER: u32 = 2;
    /// Babble detected.
    pub const BABBLE: u32 = 3;
    /// USB transaction error (no device answered).
    pub const USB_TRANSACTION: u32 = 4;
    /// TRB error.
    pub const TRB_ERROR: u32 = 5;
    /// Stall.
    pub const STALL: u32 = 6;
    /// No slots available.
    pub const NO_SLOTS: u32 = 9;
    /// Slot not enabled.
    pub const SLOT_NOT_ENABLED: u32 = 11;
    /// Endpoint not enabled.
    pub const EP_NOT_ENABLED: u32 = 12;
    /// Short packet.
    pub const SHORT_PACKET: u32 = 13;
    /// Parameter error.
    pub const PARAMETER: u32 = 17;
    /// Context state error.
    pub const CONTEXT_STATE: u32 = 19;
    /// Event ring full.
    pub const EVENT_RING_FULL: u32 = 21;
    /// Command ring stopped.
    pub const COMMAND_RING_STOPPED: u32 = 24;
    /// Command aborted.
    pub const COMMAND_ABORTED: u32 = 25;
    /// Stopped (a transfer in progress when its endpoint was stopped).
    pub const STOPPED: u32 = 26;
}

/// Control: cycle bit.
pub const CYCLE: u32 = 1 << 0;
/// Link TRB control: toggle cycle.
pub const LINK_TC: u32 = 1 << 1;
/// Transfer TRB control: interrupt on short packet.
pub const ISP: u32 = 1 << 2;
/// Transfer TRB control: chain to the next TRB of the TD.
pub const CHAIN: u32 = 1 << 4;
/// Transfer TRB control: interrupt on completion.
pub const IOC: u32 = 1 << 5;
/// Transfer TRB control: the parameter holds the data (immediate).
pub const IDT: u32 = 1 << 6;
/// Address Device control: block SET_ADDRESS request.
pub const BSR: u32 = 1 << 9;
/// Configure Endpoint control: deconfigure.
pub const DECONFIGURE: u32 = 1 << 9;
/// Data stage control: direction IN.
pub const DIR_IN: u32 = 1 << 16;
/// Transfer event control: the parameter is an Event Data TRB's value.
pub const EVENT_DATA_FLAG: u32 = 1 << 2;

impl Trb {
    /// Decodes 16 little-endian bytes.
    pub fn from_bytes(b: &[u8; 16]) -> Trb {
        let dword = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Trb {
            parameter: u64::from(dword(0)) | (u64::from(dword(4)) << 32),
            status: dword(8),
            control: dword(12),
        }
    }

    /// The 16 bytes in guest memory.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.parameter.to_le_bytes());
        b[8..12].copy_from_slice(&self.status.to_le_bytes());
        b[12..].copy_from_slice(&self.control.to_le_bytes());
        b
    }

    /// The TRB type (bits 10-15 of control).
    pub fn kind(&self) -> u32 {
        (self.control >> 10) & 0x3f
    }

    /// The cycle bit.
    pub fn cycle(&self) -> bool {
        self.control & CYCLE != 0
    }

    /// The slot ID of a command (bits 24-31 of control).
    pub fn slot(&self) -> usize {
        (self.control >> 24) as usize
    }

    /// The endpoint ID (DCI) of an endpoint command (bits 16-20).
    pub fn endpoint(&self) -> usize {
        ((self.control >> 16) & 0x1f) as usize
    }

    /// A transfer TRB's buffer length (bits 0-16 of status).
    pub fn transfer_length(&self) -> u32 {
        self.status & 0x1_ffff
    }

    /// A flag in control.
    pub fn has(&self, flag: u32) -> bool {
        self.control & flag != 0
    }

    /// An event TRB of `kind` with completion code `code`.
    pub fn event(kind: u32, parameter: u64, code: u32, length: u32, control: u32) -> Trb {
        Trb {
            parameter,
            status: (code << 24) | (length & 0xff_ffff),
            control: (kind << 10) | control,
        }
    }
}

//! UHCI (USB 1.1) host controller I/O registers, after QEMU's
//! `hw/usb/hcd-uhci.c` as the PIIX3 function `piix3-usb-uhci`.
//!
//! A 32-byte I/O block of 16-bit registers: `USBCMD`, `USBSTS` (all bits
//! write-1-to-clear), `USBINTR`, `FRNUM`, the 32-bit `FRBASEADD` (low 12
//! bits read as 0), the 8-bit `SOFMOD` and two `PORTSC` registers whose
//! change bits are write-1-to-clear and whose reserved bit 7 reads 1.
//! Offsets no register decodes read `0xff7f`, as in QEMU.
//!
//! Like QEMU, `HCRESET` and `GRESET` reset the controller at once (the
//! command register then reads 0), and setting `EGSM` while a port reports
//! resume detect sets `FGR` and `USBSTS.RD`. Devices can be connected with
//! [`UhciRegs::attach`], which sets `CCS`/`CSC` (and `LSDA` for low speed).
//!
//! The schedule (frame list, queue heads, transfer descriptors) runs in
//! [`UhciRegs::run_frames`] through a [`UhciBus`], for the frames due on
//! the controller's clock (see `schedule.rs`). While the controller
//! runs, `FRNUM` counts one frame per millisecond of a [`VirtualClock`]:
//! its own, moved by [`UhciRegs::advance`], or the machine's once
//! [`UhciRegs::set_clock`] gives it one, which follows host time while the
//! guest runs, as QEMU's frame timer on `QEMU_CLOCK_VIRTUAL`
//! (`uhci_frame_timer`) does. Differences from QEMU: resets also zero
//! `FRNUM` (the UHCI spec resets its counters; QEMU leaves `FRNUM` alone),
//! and narrow accesses use byte lanes: a byte read returns the addressed
//! half of its 16-bit register, and a byte write leaves the other half
//! unchanged (PCI byte enables), where QEMU hands the unaligned byte to the
//! 16-bit handler.

use super::{lock, merge_lanes, read_sized, write_sized, UsbSpeed};
use crate::clock::VirtualClock;
use qom_rt::migration::{MigrateField, Value, VmState};
use std::sync::Mutex;

mod schedule;
#[cfg(test)]
mod schedule_tests;
#[cfg(test)]
mod tests;

pub use schedule::{UhciBus, MAX_ELEMENTS, MAX_FRAMES_PER_RUN};

/// PCI vendor ID (Intel).
pub const PCI_VENDOR_ID: u16 = 0x8086;
/// PCI device ID (82371SB PIIX3 USB).
pub const PCI_DEVICE_ID: u16 = 0x7020;
/// PCI class code: serial bus, USB, UHCI programming interface.
pub const PCI_CLASS_CODE: u32 = 0x0c_03_00;
/// PCI revision.
pub const PCI_REVISION: u8 = 0x01;
/// Size of the I/O register block (BAR 4).
pub const IO_SIZE: u64 = 0x20;
/// Root hub ports.
pub const NUM_PORTS: usize = 2;

/// USB command register.
pub const USBCMD: u64 = 0x00;
/// USB status register.
pub const USBSTS: u64 = 0x02;
/// USB interrupt enable register.
pub const USBINTR: u64 = 0x04;
/// Frame number register.
pub const FRNUM: u64 = 0x06;
/// Frame list base address register (32 bits).
pub const FRBASEADD: u64 = 0x08;
/// Start of frame modify register (8 bits).
pub const SOFMOD: u64 = 0x0c;
/// Port 1 status and control.
pub const PORTSC1: u64 = 0x10;
/// Port 2 status and control.
pub const PORTSC2: u64 = 0x12;

/// `USBCMD`: run/stop.
pub const CMD_RS: u16 = 1 << 0;
/// `USBCMD`: host controller reset.
pub const CMD_HCRESET: u16 = 1 << 1;
/// `USBCMD`: global reset.
pub const CMD_GRESET: u16 = 1 << 2;
/// `USBCMD`: enter global suspend mode.
pub const CMD_EGSM: u16 = 1 << 3;
/// `USBCMD`: force global resume.
pub const CMD_FGR: u16 = 1 << 4;

/// `USBSTS`: USB interrupt (transfer completed with IOC, or short packet).
pub const STS_USBINT: u16 = 1 << 0;
/// `USBSTS`: USB error interrupt.
pub const STS_USBERR: u16 = 1 << 1;
/// `USBSTS`: resume detect.
pub const STS_RD: u16 = 1 << 2;
/// `USBSTS`: host system error.
pub const STS_HSERR: u16 = 1 << 3;
/// `USBSTS`: host controller process error.
pub const STS_HCPERR: u16 = 1 << 4;
/// `USBSTS`: host controller halted.
pub const STS_HCHALTED: u16 = 1 << 5;

/// `USBINTR`: timeout/CRC interrupt enable.
pub const INTR_TIMEOUT_CRC: u16 = 1 << 0;
/// `USBINTR`: resume interrupt enable.
pub const INTR_RESUME: u16 = 1 << 1;
/// `USBINTR`: interrupt on complete enable.
pub const INTR_IOC: u16 = 1 << 2;
/// `USBINTR`: short packet interrupt enable.
pub const INTR_SP: u16 = 1 << 3;

/// `PORTSC`: current connect status.
pub const PORT_CCS: u16 = 1 << 0;
/// `PORTSC`: connect status change (write 1 to clear).
pub const PORT_CSC: u16 = 1 << 1;
/// `PORTSC`: port enabled.
pub const PORT_EN: u16 = 1 << 2;
/// `PORTSC`: port enable change (write 1 to clear).
pub const PORT_ENC: u16 = 1 << 3;
/// `PORTSC`: resume detect.
pub const PORT_RD: u16 = 1 << 6;
/// `PORTSC`: reserved, always reads 1.
pub const PORT_RSVD1: u16 = 1 << 7;
/// `PORTSC`: low-speed device attached.
pub const PORT_LSDA: u16 = 1 << 8;
/// `PORTSC`: port reset.
pub const PORT_RESET: u16 = 1 << 9;
/// `PORTSC`: port suspend.
pub const PORT_SUSPEND: u16 = 1 << 12;
const PORT_READ_ONLY: u16 = 0x1bb;
const PORT_WRITE_CLEAR: u16 = PORT_CSC | PORT_ENC;

const NS_PER_FRAME: u64 = 1_000_000;

/// The registers as they migrate (QEMU's `vmstate_uhci`: `cmd`, `status`,
/// `intr`, `frnum`, `fl_base_addr`, `sof_timing`, `status2`, each port's
/// `ctrl`). `frnum` is the frame number at the save; a running
/// controller counts on from there on the destination's clock.
///
/// **Transfers in flight.** A TD stays active in guest memory until the
/// controller retires it, so a TD the schedule has not retired is simply
/// fetched again by the destination. A control transfer whose SETUP stage
/// was retired but whose status stage was not holds the device's answer
/// here, outside guest memory; rather than migrate it, the stream says
/// which ports had one (`control_in_progress`) and the destination
/// refuses such a stream: migrate while the guest's control transfers
/// are done (they last a few frames).
#[derive(Clone, VmState)]
#[migrate(check = UhciState::check_loaded)]
pub struct UhciState {
    cmd: u16,
    status: u16,
    status2: u8,
    intr: u16,
    frnum: u16,
    fl_base_addr: u32,
    sof_timing: u8,
    port_ctrl: [u16; NUM_PORTS],
    control_in_progress: [bool; NUM_PORTS],
}

impl UhciState {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if let Some(port) = self.control_in_progress.iter().position(|p| *p) {
            return Err(format!(
                "a control transfer was in progress on root port {port} (its data stage is \
                 not in guest memory); migrate once the guest's control transfers are done"
            ));
        }
        if self.frnum > 0x7ff {
            return Err(format!(
                "frnum {:#x} is past the 11-bit frame number",
                self.frnum
            ));
        }
        Ok(())
    }
}

/// The registers migrate; attached devices are the destination's own
/// (attached when its machine is built) and carry their own state.
impl MigrateField for UhciRegs {
    type Value = UhciState;

    fn save(&self) -> Value {
        let state = lock(&self.state);
        UhciState {
            cmd: state.cmd,
            status: state.status,
            status2: state.status2,
            intr: state.intr,
            frnum: state.frame_number(),
            fl_base_addr: state.fl_base_addr,
            sof_timing: state.sof_timing,
            port_ctrl: state.ports.map(|p| p.ctrl),
            control_in_progress: state
                .control
                .each_ref()
                .map(|c| !matches!(c, schedule::Control::Idle)),
        }
        .to_value()
    }

    fn restore(&self, value: UhciState) {
        let mut state = lock(&self.state);
        state.cmd = value.cmd;
        state.status = value.status;
        state.status2 = value.status2;
        state.intr = value.intr;
        state.frnum = value.frnum;
        state.fl_base_addr = value.fl_base_addr;
        state.sof_timing = value.sof_timing;
        for (port, ctrl) in state.ports.iter_mut().zip(value.port_ctrl) {
            port.ctrl = ctrl;
        }
        state.control = Default::default();
        state.frames_run = 0;
        // Running (not halted): frames count from now on this clock.
        state.running_since_ns = (state.status & STS_HCHALTED == 0).then(|| state.clock.now_ns());
    }
}

/// The UHCI register file. Cheap to share: all methods take `&self`.
pub struct UhciRegs {
    state: Mutex<State>,
}

/// QEMU's `UHCIState` registers.
struct State {
    cmd: u16,
    status: u16,
    /// Hidden: which of IOC (bit 0) and short packet (bit 1) raised USBINT.
    status2: u8,
    intr: u16,
    frnum: u16,
    fl_base_addr: u32,
    sof_timing: u8,
    ports: [Port; NUM_PORTS],
    /// While the controller runs: the virtual time at which `FRNUM` had
    /// the value in `frnum` (frames are counted from there).
    running_since_ns: Option<u64>,
    clock: VirtualClock,
    /// Frames the schedule has run since the controller started.
    frames_run: u64,
    /// The control transfer in progress on each port's device.
    control: [schedule::Control; NUM_PORTS],
}

#[derive(Clone, Copy)]
struct Port {
    ctrl: u16,
    device: Option<UsbSpeed>,
}

impl Default for UhciRegs {
    fn default() -> Self {
        Self::new()
    }
}

impl UhciRegs {
    /// A controller in its reset state, halted, with no devices.
    pub fn new() -> Self {
        let mut state = State {
            cmd: 0,
            status: 0,
            status2: 0,
            intr: 0,
            frnum: 0,
            fl_base_addr: 0,
            sof_timing: 0,
            ports: [Port {
                ctrl: 0,
                device: None,
            }; NUM_PORTS],
            running_since_ns: None,
            clock: VirtualClock::default(),
            frames_run: 0,
            control: Default::default(),
        };
        state.reset();
        UhciRegs {
            state: Mutex::new(state),
        }
    }

    /// Cold reset (QEMU's `uhci_reset`); attached devices stay attached.
    pub fn reset(&self) {
        lock(&self.state).reset();
    }

    /// A guest read of `size` bytes at `offset` in the I/O block.
    pub fn read(&self, offset: u64, size: u32) -> u64 {
        let state = lock(&self.state);
        read_sized(offset, size, 2, |reg| u64::from(state.read(reg)))
    }

    /// A guest write of `size` bytes at `offset` in the I/O block.
    pub fn write(&self, offset: u64, size: u32, value: u64) {
        let mut state = lock(&self.state);
        if size == 1 {
            let reg = offset & !1;
            let merged = merge_lanes(u64::from(state.merge_base(reg)), offset, 1, value, 2);
            state.write(reg, merged as u16);
        } else {
            write_sized(offset, size, value, 2, |reg, v| state.write(reg, v as u16));
        }
    }

    /// Level of the PCI interrupt (INTD on the PIIX3), as QEMU's
    /// `uhci_update_irq` computes it.
    pub fn irq_level(&self) -> bool {
        lock(&self.state).irq_level()
    }

    /// Moves the controller's clock forward: while the controller runs,
    /// `FRNUM` advances once per millisecond (11 bits, wrapping). Once
    /// [`UhciRegs::set_clock`] has shared a machine's clock, this moves
    /// that clock.
    pub fn advance(&self, ns: u64) {
        lock(&self.state).clock.step(ns);
    }

    /// Counts frames on `clock` from now on (a machine's virtual clock,
    /// which follows host time while its guest runs), keeping the frame
    /// number reached so far.
    pub fn set_clock(&self, clock: VirtualClock) {
        let mut state = lock(&self.state);
        let frnum = state.frame_number();
        state.frnum = frnum;
        state.clock = clock;
        if state.running_since_ns.is_some() {
            state.running_since_ns = Some(state.clock.now_ns());
            state.frames_run = 0;
        }
    }

    /// Connects a device to root port `port` (0 or 1). Returns false, and
    /// changes nothing, for another port or a speed UHCI cannot drive (high
    /// and super speed).
    pub fn attach(&self, port: usize, speed: UsbSpeed) -> bool {
        if !matches!(speed, UsbSpeed::Low | UsbSpeed::Full) {
            return false;
        }
        let mut state = lock(&self.state);
        let Some(p) = state.ports.get_mut(port) else {
            return false;
        };
        p.device = Some(speed);
        p.connect();
        tracing::trace!(target: "uhci", port, ?speed, "attach");
        state.resume();
        true
    }

    /// Disconnects the device on root port `port`, if any (QEMU's
    /// `uhci_detach`: `CSC` and, for an enabled port, `ENC` are set).
    pub fn detach(&self, port: usize) {
        let mut state = lock(&self.state);
        let Some(p) = state.ports.get_mut(port) else {
            return;
        };
        if p.device.take().is_none() {
            return;
        }
        if p.ctrl & PORT_CCS != 0 {
            p.ctrl = (p.ctrl & !PORT_CCS) | PORT_CSC;
        }
        if p.ctrl & PORT_EN != 0 {
            p.ctrl = (p.ctrl & !PORT_EN) | PORT_ENC;
        }
        tracing::trace!(target: "uhci", port, "detach");
        state.resume();
    }
}

impl Port {
    /// QEMU's `uhci_attach` on this port's device.
    fn connect(&mut self) {
        self.ctrl |= PORT_CCS | PORT_CSC;
        if self.device == Some(UsbSpeed::Low) {
            self.ctrl |= PORT_LSDA;
        } else {
            self.ctrl &= !PORT_LSDA;
        }
    }
}

impl State {
    fn reset(&mut self) {
        self.cmd = 0;
        self.status = STS_HCHALTED;
        self.status2 = 0;
        self.intr = 0;
        self.frnum = 0;
        self.running_since_ns = None;
        self.frames_run = 0;
        self.control = Default::default();
        self.fl_base_addr = 0;
        self.sof_timing = 64;
        for port in &mut self.ports {
            port.ctrl = PORT_RSVD1;
            // usb_port_reset: the device is detached and attached again.
            if port.device.is_some() {
                port.connect();
            }
        }
        tracing::trace!(target: "uhci", "reset");
    }

    fn irq_level(&self) -> bool {
        (self.status2 & 1 != 0 && self.intr & INTR_IOC != 0)
            || (self.status2 & 2 != 0 && self.intr & INTR_SP != 0)
            || (self.status & STS_USBERR != 0 && self.intr & INTR_TIMEOUT_CRC != 0)
            || (self.status & STS_RD != 0 && self.intr & INTR_RESUME != 0)
            || self.status & (STS_HSERR | STS_HCPERR) != 0
    }

    /// Signals resume if the controller is in global suspend.
    fn resume(&mut self) {
        if self.cmd & CMD_EGSM != 0 {
            self.cmd |= CMD_FGR;
            self.status |= STS_RD;
            tracing::trace!(target: "uhci", "resume");
        }
    }

    /// `FRNUM` now: the frames counted since the controller started.
    fn frame_number(&self) -> u16 {
        let Some(since) = self.running_since_ns else {
            return self.frnum;
        };
        let frames = self.clock.now_ns().saturating_sub(since) / NS_PER_FRAME;
        ((u64::from(self.frnum) + frames) & 0x7ff) as u16
    }

    fn read(&self, reg: u64) -> u16 {
        let value = match reg {
            USBCMD => self.cmd,
            USBSTS => self.status,
            USBINTR => self.intr,
            FRNUM => self.frame_number(),
            FRBASEADD => self.fl_base_addr as u16,
            0x0a => (self.fl_base_addr >> 16) as u16,
            SOFMOD => u16::from(self.sof_timing),
            PORTSC1 | PORTSC2 => self.ports[((reg - PORTSC1) / 2) as usize].ctrl,
            _ => 0xff7f,
        };
        tracing::trace!(target: "uhci", offset = reg, value, "readw");
        value
    }

    /// What the unaddressed byte of a byte write keeps: the register's
    /// value, without the write-1-to-clear bits.
    fn merge_base(&self, reg: u64) -> u16 {
        match reg {
            USBSTS => 0,
            PORTSC1 | PORTSC2 => self.read(reg) & !PORT_WRITE_CLEAR,
            _ => self.read(reg),
        }
    }

    fn write(&mut self, reg: u64, value: u16) {
        tracing::trace!(target: "uhci", offset = reg, value, "writew");
        match reg {
            USBCMD => self.write_cmd(value),
            USBSTS => {
                self.status &= !value;
                if value & STS_USBINT != 0 {
                    self.status2 = 0;
                }
            }
            USBINTR => self.intr = value,
            FRNUM => {
                if self.status & STS_HCHALTED != 0 {
                    self.frnum = value & 0x7ff;
                }
            }
            FRBASEADD => {
                self.fl_base_addr = (self.fl_base_addr & 0xffff_0000) | u32::from(value & !0xfff)
            }
            0x0a => self.fl_base_addr = (self.fl_base_addr & 0xffff) | (u32::from(value) << 16),
            SOFMOD => self.sof_timing = value as u8,
            PORTSC1 | PORTSC2 => self.write_port(((reg - PORTSC1) / 2) as usize, value),
            _ => tracing::debug!(target: "uhci", offset = reg, "write: no register"),
        }
    }

    fn write_cmd(&mut self, value: u16) {
        if value & CMD_RS != 0 && self.cmd & CMD_RS == 0 {
            tracing::trace!(target: "uhci", "schedule start");
            self.status &= !STS_HCHALTED;
            self.running_since_ns = Some(self.clock.now_ns());
            self.frames_run = 0;
        } else if value & CMD_RS == 0 {
            self.status |= STS_HCHALTED;
            self.frnum = self.frame_number();
            self.running_since_ns = None;
        }
        if value & (CMD_GRESET | CMD_HCRESET) != 0 {
            if value & CMD_GRESET != 0 {
                tracing::trace!(target: "uhci", "global reset on the bus");
            }
            self.reset();
            return;
        }
        self.cmd = value;
        if value & CMD_EGSM != 0 && self.ports.iter().any(|p| p.ctrl & PORT_RD != 0) {
            self.resume();
        }
    }

    fn write_port(&mut self, n: usize, mut value: u16) {
        let port = &mut self.ports[n];
        if port.device.is_some() && value & PORT_RESET != 0 && port.ctrl & PORT_RESET == 0 {
            tracing::trace!(target: "uhci", port = n, "device reset");
        }
        port.ctrl &= PORT_READ_ONLY;
        // A port can only be enabled with a device connected.
        if port.ctrl & PORT_CCS == 0 {
            value &= !PORT_EN;
        }
        port.ctrl |= value & !PORT_READ_ONLY;
        port.ctrl &= !(value & PORT_WRITE_CLEAR);
    }
}

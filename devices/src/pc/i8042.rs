//! `i8042`: the PS/2 keyboard controller at ports 0x60 (data) and 0x64
//! (status and commands), with a keyboard and a mouse that answer their
//! commands but never have keys or motion to report (QEMU
//! `hw/input/pckbd.c` and `hw/input/ps2.c`).
//!
//! Enough for firmware to find a working controller and keyboard:
//! SeaBIOS's `ps2_keyboard_setup` flushes the output buffer, runs the
//! controller self-test (0xaa answers 0x55) and keyboard interface test
//! (0xab answers 0), resets the keyboard (0xff answers ACK 0xfa, then
//! 0xaa), sets the scan code set and enables it, and prints "PS2 keyboard
//! initialized". Without a controller every read of 0x64 is all ones
//! (output buffer always full) and the flush times out.
//!
//! Modelled: the status register (OBF, SELFTEST, CMD, UNLOCKED,
//! MOUSE_OBF), the command byte (QEMU's `mode`), the controller commands
//! QEMU implements, the output port (A20, and reset: pulsing bit 0 asks
//! the machine to reset, which is traced and otherwise ignored here), one
//! output byte at a time with the controller's answer first, then the
//! keyboard's queue, then the mouse's (as `kbd_update_irq`), IRQ 1 for
//! keyboard data and IRQ 12 for mouse data when the command byte enables
//! them. The devices: the keyboard's commands with QEMU's answers
//! (`ps2_write_keyboard`), the mouse's common ones (`ps2_write_mouse`).
//! Not modelled: key and mouse input, typematic repeat, scan code
//! translation (nothing is ever typed), the mouse's wrap and remote modes.
//!
//! Each device's queue holds at most [`PS2_QUEUE`] bytes (QEMU's
//! `PS2_BUFFER_SIZE`; a byte that does not fit is dropped, as
//! `ps2_queue_noirq` drops it), the controller's answers at most
//! [`CONTROLLER_QUEUE`]. The whole state migrates ([`I8042State`], QEMU's
//! `vmstate_kbd` with each device's `vmstate_ps2_common`); the interrupt
//! lines are recomputed after a load.

use crate::device::DeviceImpl;
use crate::irq::IrqLine;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use qom_rt::migration::{MigrateField, MigrationHooks, Value, VmState};
use qom_rt::prelude::*;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// How many bytes a PS/2 device's queue holds (`PS2_BUFFER_SIZE`).
pub const PS2_QUEUE: usize = 256;
/// How many answers of the controller's own can wait.
pub const CONTROLLER_QUEUE: usize = 16;

/// The data port.
pub const DATA_PORT: u64 = 0x60;
/// The status (read) and command (write) port.
pub const COMMAND_PORT: u64 = 0x64;
/// The keyboard's ISA interrupt.
pub const KBD_IRQ: u32 = 1;
/// The mouse's ISA interrupt.
pub const MOUSE_IRQ: u32 = 12;

/// Status register bits (`KBD_STAT_*`).
pub mod status {
    /// Output buffer full: a byte waits at 0x60.
    pub const OBF: u8 = 0x01;
    /// Self-test passed.
    pub const SELFTEST: u8 = 0x04;
    /// The last write went to the command port (QEMU sets it at reset and
    /// leaves it).
    pub const CMD: u8 = 0x08;
    /// The keyboard is not locked.
    pub const UNLOCKED: u8 = 0x10;
    /// The byte waiting comes from the mouse.
    pub const MOUSE_OBF: u8 = 0x20;
}

/// Command byte bits (`KBD_MODE_*`).
pub mod mode {
    /// Keyboard data raises IRQ 1.
    pub const KBD_INT: u8 = 0x01;
    /// Mouse data raises IRQ 12.
    pub const MOUSE_INT: u8 = 0x02;
    /// The keyboard interface is disabled.
    pub const DISABLE_KBD: u8 = 0x10;
    /// The mouse interface is disabled.
    pub const DISABLE_MOUSE: u8 = 0x20;
    /// Scan codes are translated to set 1 (`KBD_MODE_KCC`).
    pub const TRANSLATE: u8 = 0x40;
}

const ACK: u8 = 0xfa;
const RESEND: u8 = 0xfe;
const POWER_ON_RESET: u8 = 0xaa;
/// Output port: not in reset (bit 0), A20 enabled (bit 1), and the bits
/// QEMU keeps set (`KBD_OUT_ONES`).
const OUTPORT_RESET: u8 = 0x01 | 0x02 | 0xcc;

/// Where an output byte comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Controller,
    Keyboard,
    Mouse,
}

struct State {
    status: u8,
    mode: u8,
    outport: u8,
    /// A controller command waiting for its data byte at 0x60.
    write_cmd: Option<u8>,
    /// The byte at 0x60 and where it came from, while OBF is set.
    output: Option<(u8, Source)>,
    /// The byte last read: a read with nothing waiting returns it again
    /// (`ps2_read_data`, "needed for EMM386").
    last_read: u8,
    /// The controller's answer, ahead of the devices' queues (with the
    /// source it claims: 0xd3 writes as if from the mouse).
    controller: VecDeque<(u8, Source)>,
    keyboard: Ps2Device,
    mouse: Ps2Device,
}

impl Default for State {
    fn default() -> Self {
        State::reset()
    }
}

/// A PS/2 device's side: its answers, and a command waiting for its
/// parameter byte.
#[derive(Default)]
struct Ps2Device {
    queue: VecDeque<u8>,
    pending: Option<u8>,
    scan_enabled: bool,
    scancode_set: u8,
    /// The controller translates to set 1 (the keyboard then reports IDs
    /// as translated, `ps2_keyboard_set_translation`).
    translate: bool,
}

impl State {
    /// `kbd_reset`, `ps2_kbd_reset`, `ps2_mouse_reset`.
    fn reset() -> State {
        State {
            status: status::CMD | status::UNLOCKED,
            mode: mode::KBD_INT | mode::MOUSE_INT,
            outport: OUTPORT_RESET,
            write_cmd: None,
            output: None,
            last_read: 0,
            controller: VecDeque::new(),
            keyboard: Ps2Device {
                scan_enabled: true,
                scancode_set: 2,
                ..Ps2Device::default()
            },
            mouse: Ps2Device::default(),
        }
    }

    /// Fills the output buffer from the controller's answer, then the
    /// keyboard, then the mouse (an interface the command byte disables
    /// holds its bytes back).
    fn refill(&mut self) {
        if self.output.is_some() {
            return;
        }
        self.output = if let Some(byte) = self.controller.pop_front() {
            Some(byte)
        } else if self.mode & mode::DISABLE_KBD == 0 && !self.keyboard.queue.is_empty() {
            self.keyboard
                .queue
                .pop_front()
                .map(|b| (b, Source::Keyboard))
        } else if self.mode & mode::DISABLE_MOUSE == 0 && !self.mouse.queue.is_empty() {
            self.mouse.queue.pop_front().map(|b| (b, Source::Mouse))
        } else {
            None
        };
        self.status &= !(status::OBF | status::MOUSE_OBF);
        match self.output {
            Some((_, Source::Mouse)) => self.status |= status::OBF | status::MOUSE_OBF,
            Some(_) => self.status |= status::OBF,
            None => {}
        }
    }

    /// IRQ 1 and IRQ 12 levels (`kbd_update_irq_lines`).
    fn irq_levels(&self) -> (bool, bool) {
        match self.output {
            Some((_, Source::Mouse)) => (false, self.mode & mode::MOUSE_INT != 0),
            Some(_) => (self.mode & mode::KBD_INT != 0, false),
            None => (false, false),
        }
    }

    fn answer(&mut self, byte: u8) {
        self.controller_push(byte, Source::Controller);
    }

    /// Queues an answer of the controller's, dropped when the queue is
    /// full (a guest that never reads cannot grow it without bound).
    fn controller_push(&mut self, byte: u8, source: Source) {
        if self.controller.len() < CONTROLLER_QUEUE {
            self.controller.push_back((byte, source));
        }
    }

    /// A write to 0x64 (`kbd_write_command`). Returns whether the guest
    /// asked for a system reset.
    fn command(&mut self, value: u8) -> bool {
        // 0xf0-0xff pulse output port bits 0-3 low; only bit 0 (reset)
        // does anything.
        let value = match value {
            0xf0..=0xff if value & 1 == 0 => 0xfe,
            0xf0..=0xff => 0xff,
            other => other,
        };
        match value {
            0x20 => self.answer(self.mode),
            0x60 | 0xd1 | 0xd2 | 0xd3 | 0xd4 => self.write_cmd = Some(value),
            0xa7 => self.mode |= mode::DISABLE_MOUSE,
            0xa8 => self.mode &= !mode::DISABLE_MOUSE,
            // Mouse and keyboard interface tests: no error.
            0xa9 | 0xab => self.answer(0x00),
            0xaa => {
                self.status |= status::SELFTEST;
                self.answer(0x55);
            }
            0xad => self.mode |= mode::DISABLE_KBD,
            0xae => self.mode &= !mode::DISABLE_KBD,
            0xc0 => self.answer(0x80),
            0xd0 => self.answer(self.outport),
            0xdd => self.outport &= !0x02,
            0xdf => self.outport |= 0x02,
            0xfe => return true,
            0xff => {}
            other => {
                tracing::debug!(target: "i8042", command = other, "unsupported controller command")
            }
        }
        false
    }

    /// A write to 0x60 (`kbd_write_data`). Returns whether the guest asked
    /// for a system reset.
    fn data(&mut self, value: u8) -> bool {
        match self.write_cmd.take() {
            None => self.keyboard.keyboard_write(value),
            Some(0x60) => {
                self.mode = value;
                self.keyboard.translate = value & mode::TRANSLATE != 0;
            }
            Some(0xd1) => {
                self.outport = value;
                return value & 1 == 0;
            }
            Some(0xd2) => self.controller_push(value, Source::Keyboard),
            Some(0xd3) => self.controller_push(value, Source::Mouse),
            Some(_) => self.mouse.mouse_write(value),
        }
        false
    }
}

impl Ps2Device {
    fn reply(&mut self, bytes: &[u8]) {
        for byte in bytes {
            // `ps2_queue_noirq`: a full queue drops the byte.
            if self.queue.len() < PS2_QUEUE {
                self.queue.push_back(*byte);
            }
        }
    }

    /// `ps2_write_keyboard`.
    fn keyboard_write(&mut self, value: u8) {
        match self.pending.take() {
            // Set LEDs, typematic rate: the parameter is taken.
            Some(0xed | 0xf3) => self.reply(&[ACK]),
            Some(0xf0) => match value {
                // Which set: as translated, if the controller translates.
                0 => {
                    let set = match (self.translate, self.scancode_set) {
                        (false, set) => set,
                        (true, 1) => 0x43,
                        (true, 2) => 0x41,
                        (true, _) => 0x3f,
                    };
                    self.reply(&[ACK, set]);
                }
                1..=3 => {
                    self.scancode_set = value;
                    self.reply(&[ACK]);
                }
                _ => self.reply(&[RESEND]),
            },
            _ => match value {
                0xee => self.reply(&[0xee]),
                0xed | 0xf3 | 0xf0 => {
                    self.pending = Some(value);
                    self.reply(&[ACK]);
                }
                // Get ID: an MF2 keyboard (0x41 when translated).
                0xf2 => {
                    let id = if self.translate { 0x41 } else { 0x83 };
                    self.reply(&[ACK, 0xab, id]);
                }
                0xf4 => {
                    self.scan_enabled = true;
                    self.reply(&[ACK]);
                }
                0xf5 | 0xf6 => {
                    self.queue.clear();
                    self.scancode_set = 2;
                    self.scan_enabled = value == 0xf6;
                    self.reply(&[ACK]);
                }
                0xff => {
                    self.queue.clear();
                    self.scancode_set = 2;
                    self.scan_enabled = true;
                    self.reply(&[ACK, POWER_ON_RESET]);
                }
                0xf7..=0xfe => self.reply(&[ACK]),
                _ => self.reply(&[RESEND]),
            },
        }
    }

    /// `ps2_write_mouse`, for the commands firmware sends.
    fn mouse_write(&mut self, value: u8) {
        if self.pending.take().is_some() {
            // Set resolution, set sample rate: the parameter is taken.
            self.reply(&[ACK]);
            return;
        }
        match value {
            0xe8 | 0xf3 => {
                self.pending = Some(value);
                self.reply(&[ACK]);
            }
            // Status: stream mode, disabled or enabled, 1:1, 4 counts/mm,
            // 100 samples/s.
            0xe9 => {
                let status = if self.scan_enabled { 0x20 } else { 0 };
                self.reply(&[ACK, status, 0x02, 100]);
            }
            // Get ID: a standard mouse.
            0xf2 => self.reply(&[ACK, 0x00]),
            0xf4 => {
                self.scan_enabled = true;
                self.reply(&[ACK]);
            }
            0xf5 | 0xf6 => {
                self.scan_enabled = false;
                self.reply(&[ACK]);
            }
            0xff => {
                self.queue.clear();
                self.scan_enabled = false;
                self.reply(&[ACK, POWER_ON_RESET, 0x00]);
            }
            _ => self.reply(&[ACK]),
        }
    }
}

/// A PS/2 device's side as it migrates (`vmstate_ps2_common` and the
/// keyboard's `scancode_set`/`translate`).
#[derive(Clone, VmState)]
#[migrate(check = Ps2State::check_loaded)]
pub struct Ps2State {
    /// The queue, oldest byte first; `queue_len` of them are valid.
    queue: [u8; PS2_QUEUE],
    queue_len: usize,
    pending: Option<u8>,
    scan_enabled: bool,
    scancode_set: u8,
    translate: bool,
}

impl Ps2State {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if self.queue_len > PS2_QUEUE {
            return Err(format!(
                "queue_len {} does not fit the {PS2_QUEUE}-byte queue",
                self.queue_len
            ));
        }
        Ok(())
    }

    fn save(device: &Ps2Device) -> Ps2State {
        let mut queue = [0; PS2_QUEUE];
        for (slot, byte) in queue.iter_mut().zip(&device.queue) {
            *slot = *byte;
        }
        Ps2State {
            queue,
            queue_len: device.queue.len().min(PS2_QUEUE),
            pending: device.pending,
            scan_enabled: device.scan_enabled,
            scancode_set: device.scancode_set,
            translate: device.translate,
        }
    }

    fn restore(&self) -> Ps2Device {
        Ps2Device {
            queue: self.queue[..self.queue_len.min(PS2_QUEUE)]
                .iter()
                .copied()
                .collect(),
            pending: self.pending,
            scan_enabled: self.scan_enabled,
            scancode_set: self.scancode_set,
            translate: self.translate,
        }
    }
}

/// The controller's state as it migrates (QEMU's `vmstate_kbd`: `write_cmd`,
/// `status`, `mode`, `outport`, and the pending output with its source).
/// A byte's source travels as 0 (controller), 1 (keyboard) or 2 (mouse).
#[derive(Clone, VmState)]
#[migrate(check = I8042State::check_loaded)]
pub struct I8042State {
    status: u8,
    mode: u8,
    outport: u8,
    write_cmd: Option<u8>,
    output: Option<u8>,
    output_source: u8,
    last_read: u8,
    controller: [u8; CONTROLLER_QUEUE],
    controller_sources: [u8; CONTROLLER_QUEUE],
    controller_len: usize,
    keyboard: Ps2State,
    mouse: Ps2State,
}

fn source_code(source: Source) -> u8 {
    match source {
        Source::Controller => 0,
        Source::Keyboard => 1,
        Source::Mouse => 2,
    }
}

fn source_from(code: u8) -> Source {
    match code {
        1 => Source::Keyboard,
        2 => Source::Mouse,
        _ => Source::Controller,
    }
}

impl I8042State {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if self.controller_len > CONTROLLER_QUEUE {
            return Err(format!(
                "controller_len {} does not fit the {CONTROLLER_QUEUE}-byte queue",
                self.controller_len
            ));
        }
        let sources = self.controller_sources.iter().take(self.controller_len);
        if let Some(bad) = sources.chain([&self.output_source]).find(|s| **s > 2) {
            return Err(format!(
                "byte source {bad} is none of 0 (controller), 1 (keyboard), 2 (mouse)"
            ));
        }
        Ok(())
    }

    fn save(state: &State) -> I8042State {
        let mut controller = [0; CONTROLLER_QUEUE];
        let mut controller_sources = [0; CONTROLLER_QUEUE];
        for (i, (byte, source)) in state.controller.iter().take(CONTROLLER_QUEUE).enumerate() {
            controller[i] = *byte;
            controller_sources[i] = source_code(*source);
        }
        I8042State {
            status: state.status,
            mode: state.mode,
            outport: state.outport,
            write_cmd: state.write_cmd,
            output: state.output.map(|(byte, _)| byte),
            output_source: state.output.map_or(0, |(_, s)| source_code(s)),
            last_read: state.last_read,
            controller,
            controller_sources,
            controller_len: state.controller.len().min(CONTROLLER_QUEUE),
            keyboard: Ps2State::save(&state.keyboard),
            mouse: Ps2State::save(&state.mouse),
        }
    }

    fn restore(&self) -> State {
        let len = self.controller_len.min(CONTROLLER_QUEUE);
        State {
            status: self.status,
            mode: self.mode,
            outport: self.outport,
            write_cmd: self.write_cmd,
            output: self
                .output
                .map(|byte| (byte, source_from(self.output_source))),
            last_read: self.last_read,
            controller: self.controller[..len]
                .iter()
                .zip(&self.controller_sources[..len])
                .map(|(byte, source)| (*byte, source_from(*source)))
                .collect(),
            keyboard: self.keyboard.restore(),
            mouse: self.mouse.restore(),
        }
    }
}

/// The controller's state behind its lock: what migrates of the i8042.
#[derive(Default)]
struct I8042Regs(Mutex<State>);

impl MigrateField for I8042Regs {
    type Value = I8042State;

    fn save(&self) -> Value {
        I8042State::save(&lock(&self.0)).to_value()
    }

    fn restore(&self, value: I8042State) {
        *lock(&self.0) = value.restore();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The interrupt lines follow the loaded output buffer.
impl MigrationHooks for I8042 {
    fn post_load(&self, _version: u32) {
        let state = self.lock();
        self.update_irqs(&state);
    }
}

/// The keyboard controller (`"i8042"`).
#[derive(QomObject)]
#[qom(name = "i8042", interfaces(MmioOps))]
#[migrate(version = 1, min_version = 0)]
pub struct I8042 {
    parent: ParentField<crate::Device>,
    /// The data port, 0x60.
    #[child(embedded)]
    pub data: MemoryRegion,
    /// The status and command port, 0x64.
    #[child(embedded)]
    pub command: MemoryRegion,
    #[migrate]
    state: I8042Regs,
    /// IRQ 1.
    pub kbd_irq: IrqLine,
    /// IRQ 12.
    pub mouse_irq: IrqLine,
}

impl ObjectImpl for I8042 {
    fn init(&self) {
        // `i8042_data_ops`, `i8042_cmd_ops`: one byte.
        let byte = Sizes { min: 1, max: 1 };
        self.data.init_io("i8042-data", 1, byte, byte);
        self.command.init_io("i8042-cmd", 1, byte, byte);
    }
}

impl DeviceImpl for I8042 {
    const DESCRIPTION: &'static str = "PS/2 keyboard controller with keyboard and mouse";

    fn reset(&self) {
        let mut state = self.lock();
        *state = State::reset();
        self.update_irqs(&state);
    }
}

impl I8042 {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state.0)
    }

    /// Drives IRQ 1 and 12 (under the state's lock, so the lines follow
    /// the output buffer in order).
    fn update_irqs(&self, state: &State) {
        let (kbd, mouse) = state.irq_levels();
        self.kbd_irq.set(kbd);
        self.mouse_irq.set(mouse);
    }
}

impl MmioOps for I8042 {
    fn mmio_read(&self, region: &MemoryRegion, _: u64, _: u32) -> u64 {
        let mut state = self.lock();
        if std::ptr::eq(region, &self.command) {
            return state.status.into();
        }
        // Reading frees the buffer for the next byte; with nothing
        // waiting the last byte reads again.
        if let Some((byte, _)) = state.output.take() {
            state.last_read = byte;
        }
        let value = state.last_read;
        state.refill();
        self.update_irqs(&state);
        value.into()
    }

    fn mmio_write(&self, region: &MemoryRegion, _: u64, _: u32, value: u64) {
        let mut state = self.lock();
        let reset = if std::ptr::eq(region, &self.command) {
            state.command(value as u8)
        } else {
            state.data(value as u8)
        };
        state.refill();
        self.update_irqs(&state);
        if reset {
            // QEMU resets the machine (`qemu_system_reset_request`); here
            // the request is reported and the guest carries on.
            tracing::warn!(target: "i8042", "the guest asked for a system reset through the keyboard controller; not supported");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The controller alone, driven through its register logic.
    struct Ports(State);

    impl Ports {
        fn new() -> Ports {
            Ports(State::reset())
        }
        fn command(&mut self, value: u8) {
            self.0.command(value);
            self.0.refill();
        }
        fn write(&mut self, value: u8) {
            self.0.data(value);
            self.0.refill();
        }
        fn status(&self) -> u8 {
            self.0.status
        }
        fn read(&mut self) -> u8 {
            let byte = self.0.output.take().map_or(self.0.last_read, |(b, _)| b);
            self.0.last_read = byte;
            self.0.refill();
            byte
        }
        /// Every byte waiting, as SeaBIOS's `i8042_flush` drains them.
        fn drain(&mut self) -> Vec<u8> {
            let mut bytes = Vec::new();
            while self.status() & status::OBF != 0 {
                bytes.push(self.read());
            }
            bytes
        }
    }

    #[test]
    fn reset_state_is_qemus() {
        let ports = Ports::new();
        // `kbd_reset`: KBD_STAT_CMD | KBD_STAT_UNLOCKED, output buffer empty.
        assert_eq!(ports.status(), 0x18);
        assert_eq!(ports.0.mode, mode::KBD_INT | mode::MOUSE_INT);
        assert_eq!(ports.0.outport, 0xcf);
    }

    #[test]
    fn seabios_keyboard_setup_sees_a_working_keyboard() {
        let mut p = Ports::new();
        assert!(p.drain().is_empty(), "i8042_flush: nothing waiting");
        p.command(0xaa);
        assert_eq!(p.drain(), [0x55], "controller self-test");
        assert_ne!(p.status() & status::SELFTEST, 0);
        p.command(0xab);
        assert_eq!(p.drain(), [0x00], "keyboard interface test");
        // `__ps2_command`: disable both ports and their interrupts, then
        // enable the keyboard port, send the command, read the answers.
        p.command(0x60);
        p.write(0x30);
        p.command(0x60);
        p.write(0x20);
        p.write(0xff);
        assert_eq!(p.drain(), [ACK, POWER_ON_RESET], "reset and self test");
        p.write(0xf5);
        assert_eq!(p.drain(), [ACK]);
        p.write(0xf0);
        p.write(0x02);
        assert_eq!(p.drain(), [ACK, ACK], "scan code set 2");
        p.write(0xf4);
        assert_eq!(p.drain(), [ACK]);
        assert!(p.0.keyboard.scan_enabled);
    }

    #[test]
    fn a_disabled_keyboard_holds_its_bytes_but_not_the_controllers() {
        let mut p = Ports::new();
        p.write(0xf2);
        p.command(0xad);
        // The ACK already in the buffer stays; the ID bytes wait.
        assert_eq!(p.read(), ACK);
        assert_eq!(p.status() & status::OBF, 0, "keyboard bytes held back");
        p.command(0x20);
        assert_eq!(
            p.drain(),
            [0x13],
            "the command byte: disabled, both interrupts"
        );
        p.command(0xae);
        assert_eq!(p.drain(), [0xab, 0x83], "an MF2 keyboard");
    }

    #[test]
    fn with_translation_the_keyboard_reports_translated_ids() {
        let mut p = Ports::new();
        // SeaBIOS's command byte: no mouse, translation, keyboard IRQ.
        p.command(0x60);
        p.write(0x61);
        p.write(0xf2);
        assert_eq!(
            p.drain(),
            [ACK, 0xab, 0x41],
            "`ps2_write_keyboard`, translated"
        );
        p.write(0xf0);
        p.write(0x00);
        assert_eq!(p.drain(), [ACK, ACK, 0x41], "set 2, translated");
    }

    #[test]
    fn mouse_bytes_set_mouse_obf_and_raise_irq_12() {
        let mut p = Ports::new();
        p.command(0xd4);
        p.write(0xf2);
        assert_eq!(p.status() & (status::OBF | status::MOUSE_OBF), 0x21);
        assert_eq!(p.0.irq_levels(), (false, true));
        assert_eq!(p.drain(), [ACK, 0x00]);
        assert_eq!(p.0.irq_levels(), (false, false));
    }

    #[test]
    fn reads_with_nothing_waiting_repeat_the_last_byte() {
        let mut p = Ports::new();
        p.command(0xaa);
        assert_eq!(p.read(), 0x55);
        assert_eq!(p.read(), 0x55);
    }

    #[test]
    fn pulsing_output_port_bit_0_asks_for_a_reset() {
        let mut state = State::reset();
        assert!(state.command(0xfe));
        assert!(!state.command(0xff), "no bit pulsed");
        assert!(!state.command(0xd1));
        assert!(state.data(0xfe), "output port written with bit 0 clear");
    }
}

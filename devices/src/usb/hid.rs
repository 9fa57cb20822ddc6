//! `usb-kbd`: a HID boot-protocol keyboard (QEMU's `hw/usb/dev-hid.c` and
//! `hw/input/hid.c`), with one interrupt IN endpoint (0x81, 8 bytes).
//!
//! Keys come from the monitor's `sendkey` ([`UsbKbd::send_keys`]): each
//! combination becomes a report with the keys down and one with them up,
//! queued (at most [`QUEUE_LEN`] reports, as QEMU's 16-event queue). An
//! interrupt transfer takes the oldest report; with none queued it is
//! NAKed (QEMU's idle rate 0: report only on change) and the keyboard
//! wakes its controller when a key comes.

use super::desc::{Endpoint, Identity, Interface, EP_INTERRUPT};
use super::device::{UsbDevice, UsbDeviceImpl};
use super::{Setup, UsbError, UsbResult, UsbSpeed};
use crate::device::DeviceImpl;
use qom_rt::migration::{MigrateField, MigrationHooks, Value, VmState};
use qom_rt::prelude::*;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Most reports queued before new keys are dropped.
pub const QUEUE_LEN: usize = 16;

/// The boot keyboard report descriptor (HID 1.11, appendix B.1), as
/// QEMU's `qemu_keyboard_hid_report_descriptor`.
const REPORT_DESCRIPTOR: [u8; 63] = [
    0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x75, 0x01, 0x95, 0x08, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7,
    0x15, 0x00, 0x25, 0x01, 0x81, 0x02, 0x95, 0x01, 0x75, 0x08, 0x81, 0x01, 0x95, 0x05, 0x75, 0x01,
    0x05, 0x08, 0x19, 0x01, 0x29, 0x05, 0x91, 0x02, 0x95, 0x01, 0x75, 0x03, 0x91, 0x01, 0x95, 0x06,
    0x75, 0x08, 0x15, 0x00, 0x25, 0xff, 0x05, 0x07, 0x19, 0x00, 0x29, 0xff, 0x81, 0x00, 0xc0,
];

/// The HID class descriptor that follows the interface descriptor.
fn hid_descriptor() -> Vec<u8> {
    let len = (REPORT_DESCRIPTOR.len() as u16).to_le_bytes();
    vec![9, 0x21, 0x11, 0x01, 0, 1, 0x22, len[0], len[1]]
}

/// The keyboard's state as it migrates (QEMU's `vmstate_usb_kbd`: the
/// event queue, protocol, idle rate, LEDs), the queue as its reports and
/// their count.
#[derive(Clone, VmState)]
#[migrate(check = KbdSnapshot::check_loaded)]
pub struct KbdSnapshot {
    reports: [[u8; 8]; QUEUE_LEN],
    reports_len: usize,
    protocol: u8,
    idle: u8,
    leds: u8,
}

impl KbdSnapshot {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        if self.reports_len > QUEUE_LEN {
            return Err(format!(
                "reports_len {} does not fit the {QUEUE_LEN}-report queue",
                self.reports_len
            ));
        }
        Ok(())
    }
}

/// The keyboard's state behind its lock.
#[derive(Default)]
struct KbdCell(Mutex<KbdState>);

impl MigrateField for KbdCell {
    type Value = KbdSnapshot;

    fn save(&self) -> Value {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut reports = [[0; 8]; QUEUE_LEN];
        for (slot, report) in reports.iter_mut().zip(&state.reports) {
            *slot = *report;
        }
        KbdSnapshot {
            reports,
            reports_len: state.reports.len().min(QUEUE_LEN),
            protocol: state.protocol,
            idle: state.idle,
            leds: state.leds,
        }
        .to_value()
    }

    fn restore(&self, value: KbdSnapshot) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *state = KbdState {
            reports: value.reports[..value.reports_len].iter().copied().collect(),
            protocol: value.protocol,
            idle: value.idle,
            leds: value.leds,
        };
    }
}

/// Nothing is derived from the keyboard's state.
impl MigrationHooks for UsbKbd {}

#[derive(Default)]
struct KbdState {
    reports: VecDeque<[u8; 8]>,
    /// 0: boot protocol, 1: report protocol (the same reports here).
    protocol: u8,
    idle: u8,
    leds: u8,
}

/// A USB HID boot keyboard (`"usb-kbd"`).
#[derive(QomObject)]
#[qom(name = "usb-kbd")]
#[migrate(version = 1, min_version = 0)]
pub struct UsbKbd {
    parent: ParentField<UsbDevice>,
    /// Migrates as [`KbdSnapshot`].
    #[migrate]
    state: KbdCell,
}

impl ObjectImpl for UsbKbd {}

impl DeviceImpl for UsbKbd {
    const HOTPLUGGABLE: bool = true;
    const DESCRIPTION: &'static str = "QEMU USB Keyboard (HID boot protocol)";
}

impl UsbDeviceImpl for UsbKbd {
    const SPEEDS: &'static [UsbSpeed] = &[UsbSpeed::Full, UsbSpeed::High];
    const IDENTITY: Identity = Identity {
        vendor_id: 0x0627,
        product_id: 0x0001,
        bcd_device: 0,
        manufacturer: "QEMU",
        product: "QEMU USB Keyboard",
        serial: "68284",
    };
    /// Remote wake-up, as QEMU's.
    const CONFIG_ATTRIBUTES: u8 = 0x20;

    fn interfaces(&self, speed: UsbSpeed) -> Vec<Interface> {
        // bInterval: 10 ms at full speed; 2^(7-1) microframes at high.
        let interval = if speed == UsbSpeed::Full { 10 } else { 7 };
        vec![Interface {
            class: (3, 1, 1),
            extra: hid_descriptor(),
            endpoints: vec![Endpoint {
                address: 0x81,
                kind: EP_INTERRUPT,
                max_packet: 8,
                interval,
            }],
        }]
    }

    fn class_request(&self, setup: &Setup, data: &mut [u8]) -> UsbResult<usize> {
        let mut state = self.lock();
        let reply = |bytes: &[u8], data: &mut [u8]| {
            let n = bytes.len().min(data.len());
            data[..n].copy_from_slice(&bytes[..n]);
            Ok(n)
        };
        match (setup.request_type, setup.request) {
            // GET_DESCRIPTOR addressed to the interface.
            (0x81, 6) => match setup.value >> 8 {
                0x21 => reply(&hid_descriptor(), data),
                0x22 => reply(&REPORT_DESCRIPTOR, data),
                _ => Err(UsbError::Stall),
            },
            // GET_REPORT: the current state, no keys down between reports.
            (0xa1, 0x01) => reply(&[0; 8], data),
            (0xa1, 0x02) => reply(&[state.idle], data),
            (0xa1, 0x03) => reply(&[state.protocol], data),
            // SET_REPORT: the LEDs.
            (0x21, 0x09) => {
                state.leds = data.first().copied().unwrap_or(0);
                Ok(data.len().min(1))
            }
            (0x21, 0x0a) => {
                state.idle = (setup.value >> 8) as u8;
                Ok(0)
            }
            (0x21, 0x0b) => {
                state.protocol = setup.value as u8;
                Ok(0)
            }
            _ => Err(UsbError::Stall),
        }
    }

    fn data_in(&self, ep: u8, buf: &mut [u8]) -> UsbResult<usize> {
        if ep != 1 {
            return Err(UsbError::Stall);
        }
        let report = self.lock().reports.pop_front().ok_or(UsbError::Nak)?;
        let n = buf.len().min(report.len());
        buf[..n].copy_from_slice(&report[..n]);
        Ok(n)
    }

    fn usb_reset(&self) {
        let mut state = self.lock();
        state.protocol = 1;
        state.idle = 0;
    }
}

impl UsbKbd {
    fn lock(&self) -> std::sync::MutexGuard<'_, KbdState> {
        self.state.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Presses the keys of an HMP `sendkey` combination (`ctrl-alt-f1`,
    /// `ret`, `a`) together, then releases them, and wakes the
    /// controller. Errors name the key it does not know.
    pub fn send_keys(&self, combination: &str) -> Result<(), String> {
        let (mut modifiers, mut keys) = (0u8, Vec::new());
        for name in combination.split('-') {
            match modifier(name) {
                Some(bit) => modifiers |= bit,
                None => keys.push(
                    usage(name)
                        .ok_or_else(|| format!("unknown key `{name}` in `{combination}`"))?,
                ),
            }
        }
        if keys.len() > 6 {
            return Err(format!(
                "`{combination}`: a boot keyboard reports at most 6 keys at once"
            ));
        }
        let mut down = [0u8; 8];
        down[0] = modifiers;
        down[2..2 + keys.len()].copy_from_slice(&keys);
        {
            let mut state = self.lock();
            if state.reports.len() + 2 > QUEUE_LEN {
                return Err(format!(
                    "`{combination}` dropped: {QUEUE_LEN} reports are already queued"
                ));
            }
            state.reports.push_back(down);
            state.reports.push_back([0; 8]);
        }
        self.upcast::<UsbDevice>().wakeup();
        Ok(())
    }

    /// Reports queued and not yet read by the host.
    pub fn queued(&self) -> usize {
        self.lock().reports.len()
    }

    /// The LED bits the host last set (num, caps, scroll lock...).
    pub fn leds(&self) -> u8 {
        self.lock().leds
    }
}

/// The modifier bit of an HMP key name.
fn modifier(name: &str) -> Option<u8> {
    Some(match name {
        "ctrl" => 0x01,
        "shift" => 0x02,
        "alt" => 0x04,
        "meta_l" => 0x08,
        "ctrl_r" => 0x10,
        "shift_r" => 0x20,
        "alt_r" | "altgr" => 0x40,
        "meta_r" => 0x80,
        _ => return None,
    })
}

/// The HID usage (keyboard page) of an HMP key name (QEMU's `QKeyCode`
/// names, the common ones).
fn usage(name: &str) -> Option<u8> {
    let bytes = name.as_bytes();
    if let [c @ b'a'..=b'z'] = bytes {
        return Some(4 + (c - b'a'));
    }
    if let [c @ b'1'..=b'9'] = bytes {
        return Some(30 + (c - b'1'));
    }
    if let Some(n) = name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        return (1..=12).contains(&n).then_some(57 + n);
    }
    Some(match name {
        "0" => 39,
        "ret" => 40,
        "esc" => 41,
        "backspace" => 42,
        "tab" => 43,
        "spc" => 44,
        "minus" => 45,
        "equal" => 46,
        "bracket_left" => 47,
        "bracket_right" => 48,
        "backslash" => 49,
        "semicolon" => 51,
        "apostrophe" => 52,
        "grave_accent" => 53,
        "comma" => 54,
        "dot" => 55,
        "slash" => 56,
        "caps_lock" => 57,
        "delete" => 76,
        "right" => 79,
        "left" => 80,
        "down" => 81,
        "up" => 82,
        "home" => 74,
        "end" => 77,
        "pgup" => 75,
        "pgdn" => 78,
        "insert" => 73,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_map_to_boot_usages() {
        assert_eq!(usage("a"), Some(4));
        assert_eq!(usage("z"), Some(29));
        assert_eq!(usage("1"), Some(30));
        assert_eq!(usage("0"), Some(39));
        assert_eq!(usage("f1"), Some(58));
        assert_eq!(usage("f12"), Some(69));
        assert_eq!(usage("f13"), None);
        assert_eq!(usage("ret"), Some(40));
        assert_eq!(modifier("alt"), Some(4));
    }

    #[test]
    fn report_descriptor_length_is_in_the_hid_descriptor() {
        let d = hid_descriptor();
        assert_eq!(
            usize::from(u16::from_le_bytes([d[7], d[8]])),
            REPORT_DESCRIPTOR.len()
        );
    }
}

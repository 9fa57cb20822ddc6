//! `usb-storage`: bulk-only mass storage (USB MSC BOT 1.0; QEMU's
//! `hw/usb/dev-storage.c`) over a raw image: QEMU's `-drive
//! file=disk.img,if=none,id=d0 -device usb-storage,drive=d0`, or, with no
//! `-drive`, `-device usb-storage,file=disk.img` (this project has no
//! block layer: a drive is a file the device opens).
//!
//! Bulk OUT endpoint 2 takes a 31-byte Command Block Wrapper; its SCSI
//! command ([`super::scsi`]) runs at once; the data stage then moves on
//! bulk IN endpoint 1 or bulk OUT endpoint 2, and a 13-byte Command Status
//! Wrapper ends it on bulk IN. Data IN shorter than the wrapper's
//! transfer length is padded with zeros, as QEMU does, and the residue
//! reported. A WRITE reaches the image only once its whole data stage has
//! arrived, in one write: a transfer cancelled by an unplug leaves the
//! image as it was.

use super::desc::{Endpoint, Identity, Interface, EP_BULK};
use super::device::{UsbDevice, UsbDeviceImpl};
use super::scsi::{Reply, ScsiDisk, BLOCK, CHECK_CONDITION, GOOD};
use super::{Setup, UsbError, UsbResult, UsbSpeed};
use crate::device::DeviceImpl;
use crate::machine::MachineState;
use qom_rt::migration::{MigrateField, MigrationHooks, Value, VmState};
use qom_rt::prelude::*;
use std::sync::Mutex;

const CBW_SIGNATURE: u32 = 0x4342_5355;
const CSW_SIGNATURE: u32 = 0x5342_5355;
/// CSW status: phase error (a wrapper the device cannot make sense of).
const PHASE_ERROR: u8 = 2;

/// Where the bulk-only protocol is.
#[derive(Default)]
enum Phase {
    /// Waiting for a command block wrapper.
    #[default]
    Command,
    /// Data for the host: `data[pos..]`, then `pad` zero bytes.
    DataIn {
        tag: u32,
        data: Vec<u8>,
        pos: usize,
        pad: u64,
        status: u8,
    },
    /// Data from the host for a WRITE of `want` bytes at `lba`; the
    /// wrapper announced `announced` bytes.
    DataOut {
        tag: u32,
        lba: u64,
        want: usize,
        announced: u64,
        data: Vec<u8>,
    },
    /// Data from the host for a command that failed: `left` bytes are
    /// dropped, then `status` is reported.
    Discard { tag: u32, left: u64, status: u8 },
    /// The status wrapper to send.
    Status([u8; 13]),
}

fn csw(tag: u32, residue: u64, status: u8) -> [u8; 13] {
    let mut c = [0u8; 13];
    c[..4].copy_from_slice(&CSW_SIGNATURE.to_le_bytes());
    c[4..8].copy_from_slice(&tag.to_le_bytes());
    c[8..12].copy_from_slice(&(residue.min(u64::from(u32::MAX)) as u32).to_le_bytes());
    c[12] = status;
    c
}

/// The bulk-only state as it migrates (QEMU's `vmstate_usb_msd`: the
/// phase, tag, residue, status; and the SCSI disk's sense data). The
/// image is the destination's own `-drive` (shared storage, as QEMU
/// expects for a migrated disk).
///
/// **Transfers in flight.** Between a command wrapper and its status,
/// this device holds the data phase's bytes (read from the image, or
/// gathered for a write), not guest memory. A stream saved in a data
/// phase says so (`phase` 3) and the destination refuses it: migrate
/// when the guest's command has completed. The command, discard and
/// status phases migrate in full.
#[derive(Clone, VmState)]
#[migrate(check = StorageSnapshot::check_loaded)]
pub struct StorageSnapshot {
    /// 0: waiting for a command wrapper, 1: status wrapper to send,
    /// 2: discarding the data of a failed command, 3: a data phase.
    phase: u8,
    /// The status wrapper (phase 1).
    csw: [u8; 13],
    /// Phase 2: the tag, the bytes still to drop, the status after.
    discard_tag: u32,
    discard_left: u64,
    discard_status: u8,
    /// The SCSI sense data (key, ASC, ASCQ), if a disk is open.
    sense: Option<[u8; 3]>,
}

impl StorageSnapshot {
    fn check_loaded(&mut self, _version: u32) -> Result<(), String> {
        match self.phase {
            0..=2 => Ok(()),
            3 => Err(
                "saved in the data phase of a SCSI command (its data is not in guest \
                      memory); migrate once the guest's command has completed"
                    .into(),
            ),
            phase => Err(format!("phase {phase} is none of 0 to 3")),
        }
    }
}

/// The state behind its lock: what migrates of the device.
#[derive(Default)]
struct StorageCell(Mutex<StorageState>);

impl MigrateField for StorageCell {
    type Value = StorageSnapshot;

    fn save(&self) -> Value {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut snapshot = StorageSnapshot {
            phase: 0,
            csw: [0; 13],
            discard_tag: 0,
            discard_left: 0,
            discard_status: 0,
            sense: state.disk.as_ref().map(|d| {
                let (key, asc, ascq) = d.sense();
                [key, asc, ascq]
            }),
        };
        match &state.phase {
            Phase::Command => {}
            Phase::Status(csw) => (snapshot.phase, snapshot.csw) = (1, *csw),
            Phase::Discard { tag, left, status } => {
                snapshot.phase = 2;
                snapshot.discard_tag = *tag;
                snapshot.discard_left = *left;
                snapshot.discard_status = *status;
            }
            Phase::DataIn { .. } | Phase::DataOut { .. } => snapshot.phase = 3,
        }
        snapshot.to_value()
    }

    fn restore(&self, value: StorageSnapshot) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.phase = match value.phase {
            1 => Phase::Status(value.csw),
            2 => Phase::Discard {
                tag: value.discard_tag,
                left: value.discard_left,
                status: value.discard_status,
            },
            _ => Phase::Command,
        };
        if let (Some(disk), Some([key, asc, ascq])) = (state.disk.as_mut(), value.sense) {
            disk.set_sense((key, asc, ascq));
        }
    }
}

/// Nothing is derived from the bulk-only state.
impl MigrationHooks for UsbStorage {}

#[derive(Default)]
struct StorageState {
    disk: Option<ScsiDisk>,
    phase: Phase,
}

/// A USB mass storage device over a raw image (`"usb-storage"`).
#[derive(QomObject)]
#[qom(name = "usb-storage")]
#[migrate(version = 1, min_version = 0)]
pub struct UsbStorage {
    parent: ParentField<UsbDevice>,
    /// The drive (`-drive ...,id=ID`) holding the image.
    #[property(
        name = "drive",
        doc = "id of a -drive (if=none, raw) holding the image"
    )]
    pub drive: Prop<String>,
    /// The raw image, without a `-drive`.
    #[property(name = "file", doc = "raw disk image (read-write), instead of drive")]
    pub file: Prop<String>,
    /// Migrates as [`StorageSnapshot`].
    #[migrate]
    state: StorageCell,
}

impl ObjectImpl for UsbStorage {}

impl DeviceImpl for UsbStorage {
    const HOTPLUGGABLE: bool = true;
    const DESCRIPTION: &'static str = "USB mass storage (bulk-only, SCSI disk over a raw image)";

    fn realize(&self) -> Result<(), String> {
        let (drive, path) = (self.drive.get(), self.file.get());
        let path = match (drive.is_empty(), path.is_empty()) {
            (true, true) => return Err(
                "property `drive` is required: a -drive id (drive=d0), or the image as file=PATH"
                    .into(),
            ),
            (false, false) => {
                return Err(format!(
                    "give `drive` ({drive}) or `file` ({path}), not both"
                ))
            }
            (true, false) => path,
            (false, true) => {
                let machine = MachineState::of(self.upcast()).ok_or_else(|| {
                    format!("property `drive` ({drive}): the device is on no machine")
                })?;
                let label = self.upcast::<crate::device::Device>().label();
                machine
                    .drives()
                    .claim(&drive, &label)
                    .map_err(|e| format!("property `drive`: {e}"))?
            }
        };
        let result = self.open(&path);
        if result.is_err() && !drive.is_empty() {
            if let Some(machine) = MachineState::of(self.upcast()) {
                machine.drives().release(&drive);
            }
        }
        result
    }

    fn unrealize(&self) {
        // Closes the image; a transfer still running sees no disk.
        *self.lock() = StorageState::default();
        let drive = self.drive.get();
        if !drive.is_empty() {
            if let Some(machine) = MachineState::of(self.upcast()) {
                machine.drives().release(&drive);
            }
        }
    }
}

impl UsbStorage {
    /// Opens the image at `path` read-write as the disk.
    fn open(&self, path: &str) -> Result<(), String> {
        let file = std::fs::File::options()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("property `file`: cannot open `{path}` read-write: {e}"))?;
        let disk = ScsiDisk::new(file).map_err(|e| format!("property `file`: `{path}`: {e}"))?;
        if disk.sectors() == 0 {
            return Err(format!(
                "property `file`: `{path}` is smaller than one {BLOCK}-byte block"
            ));
        }
        self.lock().disk = Some(disk);
        Ok(())
    }
}

impl UsbDeviceImpl for UsbStorage {
    const SPEEDS: &'static [UsbSpeed] = &[UsbSpeed::Full, UsbSpeed::High, UsbSpeed::Super];
    const IDENTITY: Identity = Identity {
        vendor_id: 0x46f4,
        product_id: 0x0001,
        bcd_device: 0,
        manufacturer: "QEMU",
        product: "QEMU USB HARDDRIVE",
        serial: "1-0000:00:02.0-1",
    };
    /// QEMU's `product_desc` for `usb-storage`.
    const PRODUCT: &'static str = "QEMU USB MSD";

    fn interfaces(&self, speed: UsbSpeed) -> Vec<Interface> {
        let max_packet = match speed {
            UsbSpeed::Low | UsbSpeed::Full => 64,
            UsbSpeed::High => 512,
            UsbSpeed::Super => 1024,
        };
        let ep = |address| Endpoint {
            address,
            kind: EP_BULK,
            max_packet,
            interval: 0,
        };
        vec![Interface {
            class: (8, 6, 0x50),
            extra: Vec::new(),
            endpoints: vec![ep(0x81), ep(0x02)],
        }]
    }

    fn class_request(&self, setup: &Setup, data: &mut [u8]) -> UsbResult<usize> {
        match (setup.request_type, setup.request) {
            // Bulk-Only Mass Storage Reset.
            (0x21, 0xff) => {
                self.lock().phase = Phase::Command;
                Ok(0)
            }
            // Get Max LUN: one LUN.
            (0xa1, 0xfe) if !data.is_empty() => {
                data[0] = 0;
                Ok(1)
            }
            _ => Err(UsbError::Stall),
        }
    }

    fn data_out(&self, ep: u8, bytes: &[u8]) -> UsbResult<usize> {
        if ep != 2 {
            return Err(UsbError::Stall);
        }
        let mut state = self.lock();
        let state = &mut *state;
        let Some(disk) = state.disk.as_mut() else {
            return Err(UsbError::NoDevice);
        };
        match &mut state.phase {
            Phase::Command => {
                state.phase = command(disk, bytes).ok_or(UsbError::Stall)?;
                Ok(bytes.len())
            }
            Phase::DataOut {
                tag,
                lba,
                want,
                announced,
                data,
            } => {
                let take = bytes.len().min(*want - data.len());
                data.extend_from_slice(&bytes[..take]);
                if data.len() == *want {
                    let status = disk.write(*lba, data);
                    state.phase = Phase::Status(csw(*tag, *announced - *want as u64, status));
                }
                Ok(take)
            }
            Phase::Discard { tag, left, status } => {
                let take = (bytes.len() as u64).min(*left);
                *left -= take;
                if *left == 0 {
                    state.phase = Phase::Status(csw(*tag, 0, *status));
                }
                Ok(take as usize)
            }
            _ => Err(UsbError::Stall),
        }
    }

    fn data_in(&self, ep: u8, buf: &mut [u8]) -> UsbResult<usize> {
        if ep != 1 {
            return Err(UsbError::Stall);
        }
        let mut state = self.lock();
        if state.disk.is_none() {
            return Err(UsbError::NoDevice);
        }
        match &mut state.phase {
            Phase::DataIn {
                tag,
                data,
                pos,
                pad,
                status,
            } => {
                let n = buf.len().min(data.len() - *pos);
                buf[..n].copy_from_slice(&data[*pos..*pos + n]);
                *pos += n;
                let padded = ((buf.len() - n) as u64).min(*pad);
                buf[n..n + padded as usize].fill(0);
                *pad -= padded;
                if *pos == data.len() && *pad == 0 {
                    // The residue: what the wrapper asked for beyond the
                    // command's own data (which padding filled).
                    let residue = if *status == GOOD {
                        0
                    } else {
                        data.len() as u64
                    };
                    state.phase = Phase::Status(csw(*tag, residue, *status));
                }
                Ok(n + padded as usize)
            }
            Phase::Status(c) => {
                let c = *c;
                if buf.len() < c.len() {
                    return Err(UsbError::Babble);
                }
                buf[..c.len()].copy_from_slice(&c);
                state.phase = Phase::Command;
                Ok(c.len())
            }
            _ => Err(UsbError::Stall),
        }
    }

    fn usb_reset(&self) {
        self.lock().phase = Phase::Command;
    }
}

/// Decodes a command block wrapper and runs its command; `None` for a
/// wrapper that is not one (the endpoint stalls).
fn command(disk: &mut ScsiDisk, cbw: &[u8]) -> Option<Phase> {
    if cbw.len() != 31 || u32::from_le_bytes(cbw[..4].try_into().ok()?) != CBW_SIGNATURE {
        tracing::debug!(target: "usb-storage", len = cbw.len(), "bad command block wrapper");
        return None;
    }
    let tag = u32::from_le_bytes(cbw[4..8].try_into().ok()?);
    let length = u64::from(u32::from_le_bytes(cbw[8..12].try_into().ok()?));
    let to_host = cbw[12] & 0x80 != 0;
    let cdb_len = usize::from(cbw[14] & 0x1f).clamp(1, 16);
    let reply = disk.execute(&cbw[15..15 + cdb_len]);
    Some(match reply {
        Reply::DataIn(data, status) if to_host && length > 0 => {
            let mut data = data;
            data.truncate(length as usize);
            let pad = length - data.len() as u64;
            Phase::DataIn {
                tag,
                data,
                pos: 0,
                pad,
                status,
            }
        }
        Reply::DataIn(_, status) | Reply::Status(status) if length == 0 => {
            Phase::Status(csw(tag, 0, status))
        }
        Reply::DataOut { lba, blocks } if !to_host && length > 0 => {
            let want = (blocks * BLOCK).min(length) as usize;
            if want == 0 {
                Phase::Status(csw(tag, length, GOOD))
            } else {
                Phase::DataOut {
                    tag,
                    lba,
                    want,
                    announced: length,
                    data: Vec::with_capacity(want),
                }
            }
        }
        // Failed before any data: pad or drop the data stage the host
        // expects.
        Reply::Status(CHECK_CONDITION) if to_host => Phase::DataIn {
            tag,
            data: Vec::new(),
            pos: 0,
            pad: length,
            status: CHECK_CONDITION,
        },
        Reply::Status(CHECK_CONDITION) => Phase::Discard {
            tag,
            left: length,
            status: CHECK_CONDITION,
        },
        // The host's direction or length disagrees with the command
        // (BOT's "thirteen cases"): report a phase error.
        _ => Phase::Status(csw(tag, length, PHASE_ERROR)),
    })
}

impl UsbStorage {
    fn lock(&self) -> std::sync::MutexGuard<'_, StorageState> {
        self.state.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

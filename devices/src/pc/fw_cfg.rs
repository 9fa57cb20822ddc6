//! `fw_cfg_io`: QEMU's firmware configuration interface at ports
//! 0x510/0x511 (`hw/nvram/fw_cfg.c`), as SeaBIOS reads it
//! (`src/fw/paravirt.c`: `qemu_cfg_init`, `qemu_early_e820`).
//!
//! A 16-bit write to 0x510 selects an item and rewinds it; each byte read
//! from 0x511 returns the item's next byte, 0 past its end. Items: the
//! signature `"QEMU"`, the interface ID (1: the traditional interface; the
//! DMA interface QEMU 7.2 also offers is not modelled, so SeaBIOS does
//! not print `QEMU fw_cfg DMA interface supported`), RAM size, CPU counts,
//! the file directory at 0x19 (big-endian, files sorted by name from
//! selector 0x20 on, as QEMU sorts them) and files: `etc/e820`,
//! `bootorder`, `etc/boot-fail-wait`. Writes to items are ignored (QEMU
//! 7.2 makes the traditional data port read-only).

use crate::device::DeviceImpl;
use crate::memory::{MemoryRegion, MmioOps, Sizes};
use qom_rt::migration::{MigrateField, MigrationHooks, Value, VmState};
use qom_rt::prelude::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Selector port (the data port is the next one).
pub const FW_CFG_BASE: u64 = 0x510;

/// Item selectors (`include/standard-headers/linux/qemu_fw_cfg.h`).
pub mod key {
    /// `"QEMU"`.
    pub const SIGNATURE: u16 = 0x00;
    /// Interface features: bit 0 traditional, bit 1 DMA.
    pub const ID: u16 = 0x01;
    /// RAM size, 64-bit little endian.
    pub const RAM_SIZE: u16 = 0x03;
    /// Whether there is no graphics (16-bit).
    pub const NOGRAPHIC: u16 = 0x04;
    /// CPUs at start (16-bit).
    pub const NB_CPUS: u16 = 0x05;
    /// Boot menu enabled (16-bit).
    pub const BOOT_MENU: u16 = 0x0e;
    /// Most CPUs (16-bit).
    pub const MAX_CPUS: u16 = 0x0f;
    /// The file directory.
    pub const FILE_DIR: u16 = 0x19;
    /// First file selector.
    pub const FILE_FIRST: u16 = 0x20;
    /// x86: IRQ 0 is routed to IOAPIC pin 2 (32-bit; 1 with KVM's irqchip).
    pub const IRQ0_OVERRIDE: u16 = 0x8002;
    /// x86: the legacy e820 reservation table (`FW_CFG_E820_TABLE`).
    pub const E820_TABLE: u16 = 0x8003;
}

/// E820 entry types.
pub mod e820 {
    /// Usable RAM.
    pub const RAM: u32 = 1;
    /// Reserved.
    pub const RESERVED: u32 = 2;
}

/// The guest-visible position as it migrates (QEMU's `vmstate_fw_cfg`:
/// `cur_entry` and `cur_offset`). The items are the destination board's,
/// built from the same options as the source's.
#[derive(Clone, VmState)]
pub struct FwCfgPosition {
    selected: u16,
    offset: usize,
}

/// The items and the position behind their lock; only the position
/// migrates.
#[derive(Default)]
struct FwCfgState(Mutex<State>);

impl MigrateField for FwCfgState {
    type Value = FwCfgPosition;

    fn save(&self) -> Value {
        let state = lock(&self.0);
        FwCfgPosition {
            selected: state.selected,
            offset: state.offset,
        }
        .to_value()
    }

    fn restore(&self, value: FwCfgPosition) {
        let mut state = lock(&self.0);
        state.selected = value.selected;
        state.offset = value.offset;
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Nothing is derived from the position.
impl MigrationHooks for FwCfg {}

#[derive(Default)]
struct State {
    items: BTreeMap<u16, Vec<u8>>,
    files: BTreeMap<String, Vec<u8>>,
    selected: u16,
    offset: usize,
}

impl State {
    /// Re-numbers the files and rebuilds the directory (`FWCfgFiles`).
    fn rebuild_directory(&mut self) {
        self.items
            .retain(|&k, _| !(key::FILE_FIRST..0x8000).contains(&k));
        let mut dir = (self.files.len() as u32).to_be_bytes().to_vec();
        for (n, (name, data)) in self.files.iter().enumerate() {
            let select = key::FILE_FIRST + n as u16;
            dir.extend_from_slice(&(data.len() as u32).to_be_bytes());
            dir.extend_from_slice(&select.to_be_bytes());
            dir.extend_from_slice(&[0, 0]);
            let mut field = [0u8; 56];
            let len = name.len().min(55);
            field[..len].copy_from_slice(&name.as_bytes()[..len]);
            dir.extend_from_slice(&field);
            self.items.insert(select, data.clone());
        }
        self.items.insert(key::FILE_DIR, dir);
    }
}

/// The firmware configuration device (`"fw_cfg_io"`).
#[derive(QomObject)]
#[qom(name = "fw_cfg_io", interfaces(MmioOps))]
#[migrate(version = 1, min_version = 0)]
pub struct FwCfg {
    parent: ParentField<crate::Device>,
    /// Selector (0x510, 16-bit) and data (0x511, 8-bit) ports.
    #[child(embedded)]
    pub io: MemoryRegion,
    #[migrate]
    state: FwCfgState,
}

impl ObjectImpl for FwCfg {
    fn init(&self) {
        self.io.init_io("fwcfg", 2, Sizes::ANY, Sizes::ANY);
        let mut state = self.lock();
        state.items.insert(key::SIGNATURE, b"QEMU".to_vec());
        state.items.insert(key::ID, 1u32.to_le_bytes().to_vec());
        state.rebuild_directory();
    }
}

impl DeviceImpl for FwCfg {
    const DESCRIPTION: &'static str = "QEMU firmware configuration (I/O ports)";

    fn reset(&self) {
        let mut state = self.lock();
        state.selected = 0;
        state.offset = 0;
    }
}

impl FwCfg {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state.0)
    }

    /// Sets item `key` (`fw_cfg_add_bytes`).
    pub fn add_bytes(&self, key: u16, data: Vec<u8>) {
        self.lock().items.insert(key, data);
    }

    /// Sets a 16-bit item, little endian (`fw_cfg_add_i16`).
    pub fn add_u16(&self, key: u16, value: u16) {
        self.add_bytes(key, value.to_le_bytes().to_vec());
    }

    /// Sets a 32-bit item, little endian.
    pub fn add_u32(&self, key: u16, value: u32) {
        self.add_bytes(key, value.to_le_bytes().to_vec());
    }

    /// Sets a 64-bit item, little endian.
    pub fn add_u64(&self, key: u16, value: u64) {
        self.add_bytes(key, value.to_le_bytes().to_vec());
    }

    /// Adds or replaces file `name` (`fw_cfg_add_file`/`_modify_file`).
    pub fn add_file(&self, name: &str, data: Vec<u8>) {
        let mut state = self.lock();
        state.files.insert(name.to_string(), data);
        state.rebuild_directory();
    }

    /// The content of file `name`.
    pub fn file(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().files.get(name).cloned()
    }

    /// The `etc/e820` file for `(address, length, type)` entries
    /// (`struct e820_entry`: two 64-bit and one 32-bit little-endian field).
    pub fn e820_file(entries: &[(u64, u64, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(address, length, kind) in entries {
            out.extend_from_slice(&address.to_le_bytes());
            out.extend_from_slice(&length.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
        }
        out
    }
}

impl MmioOps for FwCfg {
    fn mmio_read(&self, _: &MemoryRegion, offset: u64, size: u32) -> u64 {
        // `fw_cfg_comb_valid`: data reads are one byte at 0x511.
        if offset != 1 || size != 1 {
            return 0;
        }
        let mut state = self.lock();
        let (selected, at) = (state.selected, state.offset);
        let byte = state
            .items
            .get(&selected)
            .and_then(|data| data.get(at))
            .copied();
        match byte {
            Some(byte) => {
                state.offset += 1;
                byte.into()
            }
            None => 0,
        }
    }

    fn mmio_write(&self, _: &MemoryRegion, offset: u64, size: u32, value: u64) {
        // A 16-bit write at 0x510 selects; data writes are ignored.
        if offset == 0 && size == 2 {
            let mut state = self.lock();
            state.selected = value as u16;
            state.offset = 0;
        }
    }
}

//! `MemoryRegion`: an object normally embedded in the device that owns it
//! (its container), with I/O callbacks provided by the owner through the
//! [`MmioOps`] interface, a container of subregions, host memory (RAM or
//! ROM) or an alias of part of another region.

use arc_swap::ArcSwap;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::ram::RamBlock;

/// The owner side of an I/O region: the device a region is embedded in
/// implements this and lists it with `#[qom(interfaces(MmioOps))]`.
/// `region` tells which of the owner's regions is accessed.
#[qom_rt::interface]
pub trait MmioOps {
    /// A read of `size` bytes (1, 2, 4 or 8) at `offset`, little endian.
    fn mmio_read(&self, region: &MemoryRegion, offset: u64, size: u32) -> u64;
    /// A write of the low `size` bytes of `value` at `offset`.
    fn mmio_write(&self, region: &MemoryRegion, offset: u64, size: u32, value: u64);
}

/// Allowed access sizes in bytes, `min..=max` (powers of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Smallest size.
    pub min: u32,
    /// Largest size.
    pub max: u32,
}

impl Sizes {
    /// Any size from 1 to 8 bytes.
    pub const ANY: Sizes = Sizes { min: 1, max: 8 };
    /// 32-bit registers only.
    pub const WORD: Sizes = Sizes { min: 4, max: 4 };

    pub(crate) fn contains(self, size: u32) -> bool {
        (self.min..=self.max).contains(&size)
    }
}

/// What a region does with accesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// Calls its owner's [`MmioOps`].
    Io,
    /// Holds subregions at offsets and priorities.
    Container,
    /// Host memory the guest reads and writes (QEMU's
    /// `memory_region_init_ram`); an accelerator maps it as a memory slot.
    Ram,
    /// Host memory the guest only reads; writes are dropped
    /// (`memory_region_init_rom`).
    Rom,
    /// A window onto part of another region
    /// (`memory_region_init_alias`).
    Alias,
}

/// A subregion of a container, at an offset.
#[derive(Clone)]
pub struct Subregion {
    /// Offset in the container.
    pub offset: u64,
    /// Higher wins where subregions overlap; among equals the later added.
    pub priority: i32,
    /// The region (a strong reference: its memory stays valid while a
    /// dispatch holds the list it is in).
    pub region: Owned<MemoryRegion>,
}

#[derive(Debug)]
struct Config {
    name: String,
    size: u64,
    kind: RegionKind,
    valid: Sizes,
    implemented: Sizes,
    /// The memory of a RAM or ROM region.
    block: Option<RamBlock>,
    /// An alias's target and the offset in it of the alias's first byte.
    alias: Option<(Owned<MemoryRegion>, u64)>,
    /// Guest writes through this region are dropped (ROM, read-only alias).
    readonly: bool,
}

/// A region of guest memory (`"memory-region"`).
#[derive(QomObject)]
#[qom(name = "memory-region")]
pub struct MemoryRegion {
    parent: ParentField<Object>,
    config: OnceLock<Config>,
    disabled: AtomicBool,
    /// Accesses refused because the region was disabled or the access did
    /// not fit its constraints.
    unassigned: AtomicU64,
    subregions: ArcSwap<Vec<Subregion>>,
    /// Serialises edits of `subregions` (readers never lock).
    edit: Mutex<()>,
}

impl ObjectImpl for MemoryRegion {
    fn init(&self) {
        crate::lifetime::born("memory-region");
    }
    fn finalize(&self) {
        crate::lifetime::finalizing("memory-region");
        crate::lifetime::died("memory-region");
    }
}

impl MemoryRegion {
    fn configure(&self, name: &str, size: u64, kind: RegionKind, valid: Sizes, implemented: Sizes) {
        self.set_config(Config {
            name: name.to_string(),
            size,
            kind,
            valid,
            implemented,
            block: None,
            alias: None,
            readonly: false,
        });
    }

    fn set_config(&self, config: Config) {
        let name = config.name.clone();
        if self.config.set(config).is_err() {
            tracing::warn!(target: "memory", region = %name, "region configured twice; keeping the first");
        }
    }

    /// Makes this an I/O region of `size` bytes served by its owner's
    /// [`MmioOps`]; call it from the owner's `ObjectImpl::init`.
    pub fn init_io(&self, name: &str, size: u64, valid: Sizes, implemented: Sizes) {
        self.configure(name, size, RegionKind::Io, valid, implemented);
    }

    /// Makes this a container of `size` bytes for subregions.
    pub fn init_container(&self, name: &str, size: u64) {
        self.configure(name, size, RegionKind::Container, Sizes::ANY, Sizes::ANY);
    }

    /// Makes this a RAM region over all of `block` (QEMU's
    /// `memory_region_init_ram`): the guest reads and writes it directly.
    pub fn init_ram(&self, name: &str, block: RamBlock) {
        self.init_memory(name, block, RegionKind::Ram);
    }

    /// Makes this a ROM region over all of `block`: guest writes are
    /// dropped (QEMU's `memory_region_init_rom`).
    pub fn init_rom(&self, name: &str, block: RamBlock) {
        self.init_memory(name, block, RegionKind::Rom);
    }

    fn init_memory(&self, name: &str, block: RamBlock, kind: RegionKind) {
        self.set_config(Config {
            name: name.to_string(),
            size: block.len(),
            kind,
            valid: Sizes::ANY,
            implemented: Sizes::ANY,
            readonly: kind == RegionKind::Rom,
            block: Some(block),
            alias: None,
        });
    }

    /// Makes this an alias of `size` bytes of `target` from `offset` on
    /// (QEMU's `memory_region_init_alias`); with `readonly`, guest writes
    /// through the alias are dropped even where the target is RAM. The
    /// alias holds a strong reference on the target.
    pub fn init_alias(
        &self,
        name: &str,
        target: &MemoryRegion,
        offset: u64,
        size: u64,
        readonly: bool,
    ) {
        self.set_config(Config {
            name: name.to_string(),
            size,
            kind: RegionKind::Alias,
            valid: Sizes::ANY,
            implemented: Sizes::ANY,
            block: None,
            alias: Some((Owned::from(target), offset)),
            readonly,
        });
    }

    /// The memory of a RAM or ROM region.
    pub fn ram_block(&self) -> Option<&RamBlock> {
        self.config.get()?.block.as_ref()
    }

    /// An alias's target and offset in it.
    pub fn alias_target(&self) -> Option<(&MemoryRegion, u64)> {
        let (target, offset) = self.config.get()?.alias.as_ref()?;
        Some((target, *offset))
    }

    /// Whether guest writes through this region are dropped.
    pub fn is_readonly(&self) -> bool {
        self.config.get().is_some_and(|c| c.readonly)
    }

    /// The region's name (for `info mtree`).
    pub fn name(&self) -> &str {
        self.config
            .get()
            .map_or("<uninitialised>", |c| c.name.as_str())
    }

    /// Size in bytes (0 until configured).
    pub fn size(&self) -> u64 {
        self.config.get().map_or(0, |c| c.size)
    }

    /// I/O or container.
    pub fn kind(&self) -> RegionKind {
        self.config.get().map_or(RegionKind::Io, |c| c.kind)
    }

    pub(crate) fn valid_sizes(&self) -> Sizes {
        self.config.get().map_or(Sizes::ANY, |c| c.valid)
    }

    pub(crate) fn implemented_sizes(&self) -> Sizes {
        self.config.get().map_or(Sizes::ANY, |c| c.implemented)
    }

    /// Enables or disables the region; a disabled region answers every
    /// access with the unassigned value. The device layer disables a
    /// device's regions when it is unrealized.
    pub fn set_enabled(&self, enabled: bool) {
        // Release/Acquire: an access that sees the region disabled also
        // sees everything unrealize did before disabling it.
        let was_enabled = !self.disabled.swap(!enabled, Ordering::AcqRel);
        // Only I/O regions stay in the view while disabled (see
        // `flatview::render_into`): for the others this changes the view.
        if was_enabled != enabled && self.kind() != RegionKind::Io {
            super::flatview::topology_changed();
        }
    }

    /// Whether the region serves accesses.
    pub fn is_enabled(&self) -> bool {
        !self.disabled.load(Ordering::Acquire)
    }

    /// Accesses this region refused (disabled, or a size it does not take).
    pub fn unassigned_accesses(&self) -> u64 {
        self.unassigned.load(Ordering::Relaxed)
    }

    pub(crate) fn count_unassigned(&self) {
        self.unassigned.fetch_add(1, Ordering::Relaxed);
    }

    /// Maps `region` at `offset` in this container.
    pub fn add_subregion(&self, offset: u64, priority: i32, region: Owned<MemoryRegion>) {
        let _edit = self.edit.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<Subregion> = self.subregions.load().as_ref().clone();
        // Keep the list in lookup order: higher priority first; a new
        // region goes before older ones of the same priority (it wins).
        let at = list
            .iter()
            .position(|s| s.priority <= priority)
            .unwrap_or(list.len());
        list.insert(
            at,
            Subregion {
                offset,
                priority,
                region,
            },
        );
        self.subregions.store(Arc::new(list));
        super::flatview::topology_changed();
    }

    /// Unmaps `region`; accesses already dispatched to it finish, holding
    /// their own reference on its owner.
    pub fn remove_subregion(&self, region: &MemoryRegion) {
        let _edit = self.edit.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<Subregion> = self.subregions.load().as_ref().clone();
        list.retain(|s| !std::ptr::eq(s.region.header(), region.header()));
        self.subregions.store(Arc::new(list));
        super::flatview::topology_changed();
    }

    /// The current subregions, in lookup order.
    pub fn subregions(&self) -> arc_swap::Guard<Arc<Vec<Subregion>>> {
        self.subregions.load()
    }
}

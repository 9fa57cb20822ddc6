//! `AddressSpace`: dispatches a guest access by address through a root
//! container region, holding a strong reference on the target region's
//! owner for the duration of the access, as QEMU's memory core does.

use super::flatview::{self, FlatView};
use super::ram::{MemoryListener, RamSection};
use super::region::{MemoryRegion, MmioOps, RegionKind};
use arc_swap::ArcSwap;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Unassigned accesses across every address space, for `info lifetime`.
static UNASSIGNED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Unassigned accesses across every address space so far.
pub fn total_unassigned_accesses() -> u64 {
    UNASSIGNED_TOTAL.load(Ordering::Relaxed)
}

/// A view of guest memory (`system_memory`, PCI memory, I/O ports).
pub struct AddressSpace {
    name: String,
    root: Owned<MemoryRegion>,
    unassigned: AtomicU64,
    /// Where unassigned reads return all ones rather than 0.
    unassigned_ones: Mutex<Vec<std::ops::Range<u64>>>,
    /// The rendered view accesses use; a guard on it keeps every region
    /// in it (and so its memory) alive until the access returns, even if
    /// the region is unmapped meanwhile.
    view: ArcSwap<FlatView>,
    /// Held while re-rendering; guards the listeners and the RAM sections
    /// they were last told about.
    render: Mutex<Listeners>,
}

#[derive(Default)]
struct Listeners {
    listeners: Vec<Arc<dyn MemoryListener>>,
    mapped: Vec<RamSection>,
}

/// All ones in `size` bytes: what an unassigned read returns where
/// [`AddressSpace::set_unassigned_reads_ones`] says so.
pub(super) const fn unassigned_value(size: u32) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

impl AddressSpace {
    /// An address space over a new root container of `size` bytes, the
    /// container named as the space.
    pub fn new(name: &str, size: u64) -> Self {
        Self::with_root(name, name, size)
    }

    /// An address space whose root container has its own name (QEMU's
    /// `memory` space over the `system` region).
    pub fn with_root(name: &str, root_name: &str, size: u64) -> Self {
        let root = Owned::<MemoryRegion>::new();
        root.init_container(root_name, size);
        let view = ArcSwap::from_pointee(FlatView::render(&root));
        AddressSpace {
            name: name.to_string(),
            root,
            unassigned: AtomicU64::new(0),
            unassigned_ones: Mutex::new(Vec::new()),
            view,
            render: Mutex::new(Listeners::default()),
        }
    }

    /// The address space's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root container: map regions into it with `add_subregion`.
    pub fn root(&self) -> &MemoryRegion {
        &self.root
    }

    /// Accesses that found no region, a disabled one, or a size it refuses.
    pub fn unassigned_accesses(&self) -> u64 {
        self.unassigned.load(Ordering::Relaxed)
    }

    /// A guest read of `size` bytes (1, 2, 4 or 8) at `addr`. Where
    /// nothing answers (no region, a disabled one, a size it refuses) the
    /// read returns 0, as QEMU's `unassigned_mem_ops` do, or all ones in a
    /// space set so (see [`AddressSpace::set_unassigned_reads_ones`]).
    pub fn read(&self, addr: u64, size: u32) -> u64 {
        self.access(addr, size, Access::Read).unwrap_or_else(|| {
            let ones = self
                .unassigned_ones
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if ones.iter().any(|range| range.contains(&addr)) {
                unassigned_value(size)
            } else {
                0
            }
        })
    }

    /// A read that reports whether anything decoded it: `None` where
    /// [`AddressSpace::read`] would answer an unassigned 0 (QEMU's
    /// `MEMTX_DECODE_ERROR`, which HMP's `xp` prints as "Cannot access
    /// memory"); a range set to read all ones is a bus answering (a PCI
    /// master abort), so it reads `Some`.
    pub fn try_read(&self, addr: u64, size: u32) -> Option<u64> {
        self.access(addr, size, Access::Read).or_else(|| {
            let ones = self
                .unassigned_ones
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            ones.iter()
                .any(|range| range.contains(&addr))
                .then(|| unassigned_value(size))
        })
    }

    /// Unassigned reads in `range` return all ones instead of 0: x86 port
    /// I/O, where QEMU's `unassigned_io_ops` do (the ISA bus floats high),
    /// and a PCI host's windows, where a read no BAR claims ends in a
    /// master abort.
    pub fn set_unassigned_reads_ones(&self, range: std::ops::Range<u64>) {
        self.unassigned_ones
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(range);
    }

    /// A guest write of the low `size` bytes of `value` at `addr`.
    pub fn write(&self, addr: u64, size: u32, value: u64) {
        self.access(addr, size, Access::Write(value));
    }

    pub(super) fn unassigned(&self, region: Option<&MemoryRegion>) -> Option<u64> {
        self.unassigned.fetch_add(1, Ordering::Relaxed);
        UNASSIGNED_TOTAL.fetch_add(1, Ordering::Relaxed);
        if let Some(region) = region {
            region.count_unassigned();
        }
        None
    }

    /// Re-renders the view now if the topology changed, dropping the
    /// references a stale view holds on unmapped regions (otherwise they
    /// would live until the next access). The machine calls it after
    /// unplugging a device.
    pub fn refresh(&self) {
        drop(self.view());
    }

    /// The flat view, re-rendered if the topology changed since.
    fn view(&self) -> arc_swap::Guard<Arc<FlatView>> {
        let view = self.view.load();
        if view.generation == flatview::generation() {
            return view;
        }
        drop(view);
        let mut render = self.render.lock().unwrap_or_else(|e| e.into_inner());
        let view = self.view.load();
        if view.generation == flatview::generation() {
            return view;
        }
        let new = FlatView::render(&self.root);
        if !render.listeners.is_empty() {
            render.update(new.ram_sections());
        }
        self.view.store(Arc::new(new));
        self.view.load()
    }

    /// Registers `listener` and tells it at once about every RAM section
    /// in the view; it hears of every later change when the view is
    /// re-rendered (at the next access, or at [`AddressSpace::refresh`]).
    pub fn add_listener(&self, listener: Arc<dyn MemoryListener>) {
        drop(self.view());
        let mut render = self.render.lock().unwrap_or_else(|e| e.into_inner());
        let sections = self.view.load().ram_sections();
        for section in &sections {
            listener.map(section);
        }
        render.mapped = sections;
        render.listeners.push(listener);
    }

    /// Unregisters `listener` (compared by address), telling it to unmap
    /// every section it was told about.
    pub fn remove_listener(&self, listener: &Arc<dyn MemoryListener>) {
        let mut render = self.render.lock().unwrap_or_else(|e| e.into_inner());
        let before = render.listeners.len();
        render.listeners.retain(|l| !Arc::ptr_eq(l, listener));
        if render.listeners.len() != before {
            for section in &render.mapped {
                listener.unmap(section);
            }
        }
        if render.listeners.is_empty() {
            render.mapped.clear();
        }
    }

    /// The RAM sections of the current view (what listeners have mapped).
    pub fn ram_sections(&self) -> Vec<RamSection> {
        self.view().ram_sections()
    }

    /// The current flat view, for the DMA paths.
    pub(super) fn current_view(&self) -> arc_swap::Guard<Arc<FlatView>> {
        self.view()
    }

    /// Finds the region and performs the access; `None` if it is
    /// unassigned (and counted).
    fn access(&self, addr: u64, size: u32, access: Access) -> Option<u64> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return self.unassigned(None);
        }
        let view = self.view();
        let Some(range) = view.lookup(addr) else {
            return self.unassigned(None);
        };
        if addr + u64::from(size) > range.end {
            return self.unassigned(Some(&range.region));
        }
        let offset = addr - range.start + range.offset_in_region;
        match range.region.kind() {
            RegionKind::Ram | RegionKind::Rom => {
                self.memory_access(&range.region, offset, size, access, range.readonly)
            }
            _ => self.io_access(&range.region, offset, size, access),
        }
    }

    /// An access to host memory that took the dispatch path (a range an
    /// accelerator could not map, a write to ROM, or a device's DMA).
    /// Writes to read-only memory are dropped, as QEMU drops them.
    pub(super) fn memory_access(
        &self,
        region: &MemoryRegion,
        offset: u64,
        size: u32,
        access: Access,
        readonly: bool,
    ) -> Option<u64> {
        let Some(block) = region.ram_block().filter(|_| region.is_enabled()) else {
            return self.unassigned(Some(region));
        };
        let mut bytes = [0u8; 8];
        let bytes = &mut bytes[..size as usize];
        match access {
            Access::Read => {
                if !block.read(offset, bytes) {
                    return self.unassigned(Some(region));
                }
                let mut value = [0u8; 8];
                value[..bytes.len()].copy_from_slice(bytes);
                Some(u64::from_le_bytes(value))
            }
            Access::Write(_) if readonly => {
                tracing::trace!(target: "memory", region = region.name(), offset, "write to read-only memory dropped");
                Some(0)
            }
            Access::Write(value) => {
                bytes.copy_from_slice(&value.to_le_bytes()[..bytes.len()]);
                if !block.write(offset, bytes) {
                    return self.unassigned(Some(region));
                }
                Some(0)
            }
        }
    }

    pub(super) fn io_access(
        &self,
        region: &MemoryRegion,
        offset: u64,
        size: u32,
        access: Access,
    ) -> Option<u64> {
        // Wider than the device accepts: split into accesses as wide as it
        // accepts, little endian, as QEMU's `memory_access_size` does (an
        // 8-byte read of a PL011 is two 4-byte reads there too).
        let widest = region.valid_sizes().max;
        if region.is_enabled()
            && size > widest
            && widest > 0
            && offset.is_multiple_of(u64::from(size))
        {
            let mut value = 0u64;
            let mut done = 0;
            while done < size {
                let shift = 8 * done;
                let piece = match access {
                    Access::Read => Access::Read,
                    Access::Write(v) => Access::Write(v >> shift),
                };
                value |= self.io_access(region, offset + u64::from(done), widest, piece)? << shift;
                done += widest;
            }
            return Some(value);
        }
        if !region.is_enabled()
            || !region.valid_sizes().contains(size)
            || !offset.is_multiple_of(u64::from(size))
        {
            return self.unassigned(Some(region));
        }
        // The strong reference on the owner for this access: `None` once
        // the owner has begun finalizing, so a region that outlives its
        // device never reaches the device's state.
        let Some(owner) = region.container::<Object>() else {
            return self.unassigned(Some(region));
        };
        let Some(ops) = owner.interface::<dyn MmioOps>() else {
            return self.unassigned(Some(region));
        };
        // Split an access wider than the device implements into the widest
        // implemented pieces, little endian.
        let piece = size.min(region.implemented_sizes().max);
        let mut value = 0u64;
        let mut done = 0;
        while done < size {
            let at = offset + u64::from(done);
            let shift = 8 * done;
            match access {
                Access::Read => value |= ops.mmio_read(region, at, piece) << shift,
                Access::Write(v) => ops.mmio_write(region, at, piece, v >> shift),
            }
            done += piece;
        }
        Some(value)
    }
}

/// A guest access that has found its region and holds a strong reference
/// on the region's owner, but has not completed yet: what the memory core
/// holds while a device model is busy with an access. Dropping it without
/// finishing abandons the access.
pub struct HeldAccess {
    region: Owned<MemoryRegion>,
    owner: Owned<Object>,
    offset: u64,
    size: u32,
}

impl HeldAccess {
    /// The owner the access keeps alive.
    pub fn owner(&self) -> &Object {
        &self.owner
    }

    /// Completes the access as a read.
    pub fn finish_read(self) -> u64 {
        match self.owner.interface::<dyn MmioOps>() {
            Some(ops) => ops.mmio_read(&self.region, self.offset, self.size),
            None => unassigned_value(self.size),
        }
    }
}

impl AddressSpace {
    /// Starts an access at `addr` and holds it in flight: the region and a
    /// strong reference on its owner are taken as `read` takes them. `None`
    /// if the access would be unassigned.
    pub fn hold(&self, addr: u64, size: u32) -> Option<HeldAccess> {
        let view = self.view();
        let range = view.lookup(addr)?;
        if !range.region.is_enabled() {
            return None;
        }
        let owner = range.region.container::<Object>()?;
        Some(HeldAccess {
            region: range.region.clone(),
            owner,
            offset: addr - range.start + range.offset_in_region,
            size,
        })
    }
}

impl Listeners {
    /// Tells the listeners how the RAM sections changed: removals first,
    /// so a slot is free before a section reusing its addresses is added.
    fn update(&mut self, sections: Vec<RamSection>) {
        for old in &self.mapped {
            if !sections.contains(old) {
                self.listeners.iter().for_each(|l| l.unmap(old));
            }
        }
        for new in &sections {
            if !self.mapped.contains(new) {
                self.listeners.iter().for_each(|l| l.map(new));
            }
        }
        self.mapped = sections;
    }
}

#[derive(Clone, Copy)]
pub(super) enum Access {
    Read,
    Write(u64),
}

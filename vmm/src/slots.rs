//! KVM memory slots that follow an address space's RAM sections: the
//! accelerator's [`MemoryListener`] (QEMU's `kvm_region_add`/`_del`).

use kvm_bindings::{kvm_userspace_memory_region, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY};
use kvm_ioctls::VmFd;
use qom_devices::memory::{MemoryListener, RamBlock, RamSection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The VM's memory slots, one per mapped [`RamSection`]. Each slot keeps a
/// clone of its section, and so a strong reference on the host memory the
/// kernel was given, until the slot is deleted.
/// Read-only sections become read-only slots (`KVM_CAP_READONLY_MEM`,
/// which the accelerator requires): the guest reads and executes them
/// directly, and its writes exit as MMIO and are dropped by the dispatch.
pub(crate) struct KvmSlots {
    vm: Arc<VmFd>,
    slots: Mutex<Vec<Option<RamSection>>>,
    /// Writable slots log the pages the guest writes
    /// (`KVM_MEM_LOG_DIRTY_PAGES`), for a live migration.
    logging: AtomicBool,
    /// Writable sections unmapped while logging: their dirty bits went
    /// with the slot, so all their pages count as dirty.
    lost: Mutex<Vec<RamSection>>,
}

impl KvmSlots {
    pub(crate) fn new(vm: Arc<VmFd>) -> Self {
        KvmSlots {
            vm,
            slots: Mutex::new(Vec::new()),
            logging: AtomicBool::new(false),
            lost: Mutex::new(Vec::new()),
        }
    }

    /// Turns dirty-page logging on or off on every writable slot (and on
    /// the slots mapped from now on).
    pub(crate) fn set_dirty_logging(&self, on: bool) -> Result<(), String> {
        let slots = self.slots();
        self.logging.store(on, Ordering::Release);
        for (index, slot) in slots.iter().enumerate() {
            if let Some(section) = slot.as_ref().filter(|s| !s.readonly) {
                self.set_slot(index, Some(section))?;
            }
        }
        if !on {
            self.lost.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        Ok(())
    }

    /// Calls `dirty(block, offset)` for each page the guest wrote since
    /// the last call (or since logging started), by the offset of the
    /// page in its block; KVM clears the bits it reports.
    pub(crate) fn take_dirty(&self, mut dirty: impl FnMut(&RamBlock, u64)) -> Result<(), String> {
        let slots = self.slots();
        for (index, slot) in slots.iter().enumerate() {
            let Some(section) = slot.as_ref().filter(|s| !s.readonly) else {
                continue;
            };
            let bitmap = self
                .vm
                .get_dirty_log(index as u32, section.size as usize)
                .map_err(|e| format!("KVM_GET_DIRTY_LOG of slot {index} failed: {e}"))?;
            for (word_index, &word) in bitmap.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let bit = u64::from(bits.trailing_zeros());
                    bits &= bits - 1;
                    let page = word_index as u64 * 64 + bit;
                    dirty(&section.block, section.offset + page * 4096);
                }
            }
        }
        drop(slots);
        let lost = std::mem::take(&mut *self.lost.lock().unwrap_or_else(|e| e.into_inner()));
        for section in lost {
            for page in 0..section.size.div_ceil(4096) {
                dirty(&section.block, section.offset + page * 4096);
            }
        }
        Ok(())
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Option<RamSection>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets slot `index` to `section`, or deletes it (size 0) for `None`.
    fn set_slot(&self, index: usize, section: Option<&RamSection>) -> Result<(), String> {
        let mut region = kvm_userspace_memory_region {
            slot: index as u32,
            ..Default::default()
        };
        if let Some(section) = section {
            let block = &section.block;
            // The invariant the ioctl below relies on: the host range lies
            // inside the block's mapping (an overflowing end does not).
            let end = section.offset.checked_add(section.size);
            if end.is_none_or(|end| end > block.len()) {
                return Err(format!(
                    "section {:#x}+{:#x} at offset {:#x} overruns its {:#x}-byte block",
                    section.start,
                    section.size,
                    section.offset,
                    block.len()
                ));
            }
            region.guest_phys_addr = section.start;
            region.memory_size = section.size;
            region.userspace_addr = block.mapping().as_ptr() as u64 + section.offset;
            region.flags = if section.readonly {
                KVM_MEM_READONLY
            } else if self.logging.load(Ordering::Acquire) {
                KVM_MEM_LOG_DIRTY_PAGES
            } else {
                0
            };
        }
        // SAFETY: KVM will access `memory_size` bytes of this process's
        // memory at `userspace_addr` for as long as the slot exists. Those
        // bytes are inside the `vm_memory` mapping of `section.block`
        // (checked just above), a mapping made for guest memory that no
        // Rust reference covers (it is only reached through volatile
        // copies). The mapping stays alive while the slot exists: the slot
        // table keeps a clone of the section, so a strong reference on the
        // block, until `unmap` or `Drop` has deleted the slot (a size-0
        // call, which hands no memory to the kernel).
        unsafe { self.vm.set_user_memory_region(region) }.map_err(|e| e.to_string())
    }
}

impl MemoryListener for KvmSlots {
    fn map(&self, section: &RamSection) {
        let mut slots = self.slots();
        let index = slots
            .iter()
            .position(Option::is_none)
            .unwrap_or(slots.len());
        match self.set_slot(index, Some(section)) {
            Ok(()) => {
                if index == slots.len() {
                    slots.push(None);
                }
                slots[index] = Some(section.clone());
                tracing::debug!(target: "kvm", slot = index, start = section.start, size = section.size, readonly = section.readonly, "slot mapped");
            }
            // The guest then takes MMIO exits there, which the dispatch
            // path serves from the same memory: slower, still correct.
            Err(e) => {
                tracing::warn!(target: "kvm", start = section.start, size = section.size, "cannot map a memory slot: {e}")
            }
        }
    }

    fn unmap(&self, section: &RamSection) {
        let mut slots = self.slots();
        let Some(index) = slots.iter().position(|s| s.as_ref() == Some(section)) else {
            return;
        };
        match self.set_slot(index, None) {
            Ok(()) => {
                if !section.readonly && self.logging.load(Ordering::Acquire) {
                    let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
                    lost.push(section.clone());
                }
                slots[index] = None;
                tracing::debug!(target: "kvm", slot = index, start = section.start, "slot deleted");
            }
            // Keep the section (and its memory) while the kernel keeps it.
            Err(e) => {
                tracing::error!(target: "kvm", slot = index, "cannot delete a memory slot: {e}")
            }
        }
    }
}

impl Drop for KvmSlots {
    /// Deletes every slot before the host memory can go: the VM fd may
    /// outlive this table.
    fn drop(&mut self) {
        let slots = std::mem::take(&mut *self.slots());
        for (index, slot) in slots.iter().enumerate() {
            if slot.is_some() {
                if let Err(e) = self.set_slot(index, None) {
                    // The memory must then outlive the VM: leak it.
                    tracing::error!(target: "kvm", slot = index, "cannot delete a memory slot: {e}");
                    std::mem::forget(slots);
                    return;
                }
            }
        }
    }
}

//! The KVM state of a VM: per vCPU its registers, special registers,
//! XSAVE area (or FPU), XCRs, MSRs (every MSR KVM lists as saveable,
//! the TSC among them), local APIC, pending events, MP state and debug
//! registers; for the VM the in-kernel PICs and IOAPIC, the PIT and the
//! KVM clock. The structures are KVM's own, carried as their bytes
//! ([`KvmAbi`]), each with its length so that a stream from another
//! layout is refused rather than misread.

use super::abi::KvmAbi;
use super::format::Cursor;
use crate::error::{Error, Result};
use kvm_bindings::{
    kvm_clock_data, kvm_debugregs, kvm_fpu, kvm_irqchip, kvm_lapic_state, kvm_mp_state,
    kvm_msr_entry, kvm_pit_state2, kvm_regs, kvm_sregs, kvm_vcpu_events, kvm_xcrs, kvm_xsave, Msrs,
    KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

/// One vCPU's state.
pub struct VcpuState {
    regs: kvm_regs,
    sregs: kvm_sregs,
    /// The XSAVE area where KVM has one, else the legacy FPU state.
    xsave: Option<Box<kvm_xsave>>,
    fpu: kvm_fpu,
    xcrs: Option<kvm_xcrs>,
    msrs: Vec<kvm_msr_entry>,
    lapic: kvm_lapic_state,
    events: kvm_vcpu_events,
    mp_state: kvm_mp_state,
    debugregs: kvm_debugregs,
}

/// The VM-wide in-kernel state.
#[derive(Clone)]
pub struct ChipState {
    chips: [kvm_irqchip; 3],
    pit: kvm_pit_state2,
    clock: kvm_clock_data,
}

fn put<T: KvmAbi>(out: &mut Vec<u8>, value: &T) {
    put_bytes(out, value.bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn get<T: KvmAbi>(cursor: &mut Cursor<'_>, what: &str) -> std::result::Result<T, String> {
    let len = cursor.u32()? as usize;
    let bytes = cursor.take(len)?;
    if len != std::mem::size_of::<T>() {
        return Err(format!(
            "{what} is {len} bytes in the stream, {} in this build's KVM",
            std::mem::size_of::<T>()
        ));
    }
    T::from_bytes(bytes).ok_or_else(|| format!("{what} cannot be read"))
}

/// Reads every MSR in `list` that the vCPU answers for; KVM stops a batch
/// at the first MSR it cannot read, which is then skipped.
pub(crate) fn read_msrs(vcpu: &VcpuFd, list: &[u32]) -> Result<Vec<kvm_msr_entry>> {
    let mut out = Vec::new();
    let mut next = 0;
    while next < list.len() {
        let entries: Vec<kvm_msr_entry> = list[next..]
            .iter()
            .map(|&index| kvm_msr_entry {
                index,
                ..Default::default()
            })
            .collect();
        let mut msrs = Msrs::from_entries(&entries).map_err(|e| Error::Vcpu {
            index: 0,
            reason: format!("cannot list {} MSRs: {e:?}", entries.len()),
        })?;
        let read = vcpu
            .get_msrs(&mut msrs)
            .map_err(Error::kvm("KVM_GET_MSRS"))?;
        out.extend_from_slice(&msrs.as_slice()[..read]);
        next += read + 1;
    }
    Ok(out)
}

/// The MSRs a migration carries: those KVM lists as saveable.
pub fn msr_list(kvm: &Kvm) -> Result<Vec<u32>> {
    let list = kvm
        .get_msr_index_list()
        .map_err(Error::kvm("KVM_GET_MSR_INDEX_LIST"))?;
    Ok(list.as_slice().to_vec())
}

impl VcpuState {
    /// Reads a stopped vCPU's state.
    pub fn capture(vcpu: &VcpuFd, msr_list: &[u32]) -> Result<VcpuState> {
        Ok(VcpuState {
            regs: vcpu.get_regs().map_err(Error::kvm("KVM_GET_REGS"))?,
            sregs: vcpu.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?,
            xsave: vcpu.get_xsave().ok().map(Box::new),
            fpu: vcpu.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?,
            xcrs: vcpu.get_xcrs().ok(),
            msrs: read_msrs(vcpu, msr_list)?,
            lapic: vcpu.get_lapic().map_err(Error::kvm("KVM_GET_LAPIC"))?,
            events: vcpu
                .get_vcpu_events()
                .map_err(Error::kvm("KVM_GET_VCPU_EVENTS"))?,
            mp_state: vcpu
                .get_mp_state()
                .map_err(Error::kvm("KVM_GET_MP_STATE"))?,
            debugregs: vcpu
                .get_debug_regs()
                .map_err(Error::kvm("KVM_GET_DEBUGREGS"))?,
        })
    }

    /// Writes the state into a stopped vCPU, in the order QEMU's
    /// `kvm_arch_put_registers` uses: registers, XSAVE, XCRs, special
    /// registers, MSRs, MP state, local APIC, events, debug registers.
    pub fn restore(&self, vcpu: &VcpuFd) -> Result<()> {
        vcpu.set_regs(&self.regs)
            .map_err(Error::kvm("KVM_SET_REGS"))?;
        match &self.xsave {
            Some(xsave) => {
                // SAFETY: KVM_SET_XSAVE reads `sizeof(struct kvm_xsave)`,
                // 4096 bytes, the size of `kvm_xsave` here, unless the VM
                // enabled dynamic XSAVE features (AMX) with
                // `KVM_CAP_XSAVE2` and arch_prctl, which this accelerator
                // never does; so the kernel reads only this value's bytes.
                unsafe { vcpu.set_xsave(xsave) }.map_err(Error::kvm("KVM_SET_XSAVE"))?
            }
            None => vcpu.set_fpu(&self.fpu).map_err(Error::kvm("KVM_SET_FPU"))?,
        }
        if let Some(xcrs) = &self.xcrs {
            vcpu.set_xcrs(xcrs).map_err(Error::kvm("KVM_SET_XCRS"))?;
        }
        vcpu.set_sregs(&self.sregs)
            .map_err(Error::kvm("KVM_SET_SREGS"))?;
        let mut next = 0;
        while next < self.msrs.len() {
            let msrs = Msrs::from_entries(&self.msrs[next..]).map_err(|e| Error::Vcpu {
                index: 0,
                reason: format!("cannot list {} MSRs: {e:?}", self.msrs.len() - next),
            })?;
            let written = vcpu.set_msrs(&msrs).map_err(Error::kvm("KVM_SET_MSRS"))?;
            if let Some(refused) = self.msrs.get(next + written) {
                // Listed as saveable by the source's KVM, refused here
                // (a feature this host lacks): the guest never used it.
                tracing::warn!(target: "kvm", msr = refused.index, data = refused.data, "KVM_SET_MSRS refused an MSR of the stream");
            }
            next += written + 1;
        }
        vcpu.set_mp_state(self.mp_state)
            .map_err(Error::kvm("KVM_SET_MP_STATE"))?;
        vcpu.set_lapic(&self.lapic)
            .map_err(Error::kvm("KVM_SET_LAPIC"))?;
        vcpu.set_vcpu_events(&self.events)
            .map_err(Error::kvm("KVM_SET_VCPU_EVENTS"))?;
        vcpu.set_debug_regs(&self.debugregs)
            .map_err(Error::kvm("KVM_SET_DEBUGREGS"))?;
        Ok(())
    }

    /// Appends the state's bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put(out, &self.regs);
        put(out, &self.sregs);
        out.push(u8::from(self.xsave.is_some()));
        if let Some(xsave) = &self.xsave {
            let words: Vec<u8> = xsave.region.iter().flat_map(|w| w.to_le_bytes()).collect();
            put_bytes(out, &words);
        }
        put(out, &self.fpu);
        out.push(u8::from(self.xcrs.is_some()));
        if let Some(xcrs) = &self.xcrs {
            put(out, xcrs);
        }
        out.extend_from_slice(&(self.msrs.len() as u32).to_le_bytes());
        for msr in &self.msrs {
            out.extend_from_slice(&msr.index.to_le_bytes());
            out.extend_from_slice(&msr.data.to_le_bytes());
        }
        put(out, &self.lapic);
        put(out, &self.events);
        put(out, &self.mp_state);
        put(out, &self.debugregs);
    }

    /// Reads a state written by [`encode`](Self::encode), checking every
    /// length and value it can without the vCPU.
    pub fn decode(cursor: &mut Cursor<'_>) -> std::result::Result<VcpuState, String> {
        let regs = get(cursor, "KVM_GET_REGS's state")?;
        let sregs = get(cursor, "KVM_GET_SREGS's state")?;
        let xsave = match cursor.u8()? {
            0 => None,
            1 => {
                let mut area = Box::<kvm_xsave>::default();
                let len = cursor.u32()? as usize;
                if len != 4 * area.region.len() {
                    return Err(format!(
                        "the XSAVE area is {len} bytes in the stream, {} here",
                        4 * area.region.len()
                    ));
                }
                let bytes = cursor.take(len)?;
                for (word, b) in area.region.iter_mut().zip(bytes.chunks_exact(4)) {
                    *word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                Some(area)
            }
            other => return Err(format!("the XSAVE flag is {other}, not 0 or 1")),
        };
        let fpu = get(cursor, "the FPU state")?;
        let xcrs = match cursor.u8()? {
            0 => None,
            1 => Some(get::<kvm_xcrs>(cursor, "the XCRs")?),
            other => return Err(format!("the XCR flag is {other}, not 0 or 1")),
        };
        if let Some(x) = &xcrs {
            if x.nr_xcrs as usize > x.xcrs.len() {
                return Err(format!(
                    "the stream has {} XCRs (at most {})",
                    x.nr_xcrs,
                    x.xcrs.len()
                ));
            }
        }
        let count = cursor.u32()?;
        if count > 4096 {
            return Err(format!("the stream has {count} MSRs (at most 4096)"));
        }
        let mut msrs = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let index = cursor.u32()?;
            let data = cursor.u64()?;
            msrs.push(kvm_msr_entry {
                index,
                data,
                ..Default::default()
            });
        }
        let lapic = get(cursor, "the local APIC")?;
        let events = get(cursor, "the vCPU events")?;
        let mp_state: kvm_mp_state = get(cursor, "the MP state")?;
        if mp_state.mp_state > kvm_bindings::KVM_MP_STATE_SUSPENDED {
            return Err(format!(
                "MP state {} is not one of KVM's",
                mp_state.mp_state
            ));
        }
        let debugregs = get(cursor, "the debug registers")?;
        Ok(VcpuState {
            regs,
            sregs,
            xsave,
            fpu,
            xcrs,
            msrs,
            lapic,
            events,
            mp_state,
            debugregs,
        })
    }

    /// The instruction pointer (for messages and tests).
    pub fn rip(&self) -> u64 {
        self.regs.rip
    }
}

impl ChipState {
    /// Reads the PICs, the IOAPIC, the PIT and the clock.
    pub fn capture(vm: &VmFd) -> Result<ChipState> {
        let mut chips = [
            KVM_IRQCHIP_PIC_MASTER,
            KVM_IRQCHIP_PIC_SLAVE,
            KVM_IRQCHIP_IOAPIC,
        ]
        .map(|chip_id| kvm_irqchip {
            chip_id,
            ..Default::default()
        });
        for chip in &mut chips {
            vm.get_irqchip(chip)
                .map_err(Error::kvm("KVM_GET_IRQCHIP"))?;
        }
        Ok(ChipState {
            chips,
            pit: vm.get_pit2().map_err(Error::kvm("KVM_GET_PIT2"))?,
            clock: vm.get_clock().map_err(Error::kvm("KVM_GET_CLOCK"))?,
        })
    }

    /// Writes them back; the clock goes on from the saved value.
    pub fn restore(&self, vm: &VmFd) -> Result<()> {
        for chip in &self.chips {
            vm.set_irqchip(chip)
                .map_err(Error::kvm("KVM_SET_IRQCHIP"))?;
        }
        vm.set_pit2(&self.pit).map_err(Error::kvm("KVM_SET_PIT2"))?;
        // Only the clock's value: the flags and host time of the source
        // mean nothing here (QEMU's `kvm_update_clock` sets the same).
        let clock = kvm_clock_data {
            clock: self.clock.clock,
            ..Default::default()
        };
        vm.set_clock(&clock).map_err(Error::kvm("KVM_SET_CLOCK"))
    }

    /// Appends the state's bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for chip in &self.chips {
            put(out, chip);
        }
        put(out, &self.pit);
        put(out, &self.clock);
    }

    /// Reads a state written by [`encode`](Self::encode).
    pub fn decode(cursor: &mut Cursor<'_>) -> std::result::Result<ChipState, String> {
        let mut chips = [kvm_irqchip::default(); 3];
        for (chip, id) in chips.iter_mut().zip([
            KVM_IRQCHIP_PIC_MASTER,
            KVM_IRQCHIP_PIC_SLAVE,
            KVM_IRQCHIP_IOAPIC,
        ]) {
            *chip = get(cursor, "an in-kernel irqchip")?;
            if chip.chip_id != id {
                return Err(format!(
                    "irqchip {} is where irqchip {id} belongs",
                    chip.chip_id
                ));
            }
        }
        Ok(ChipState {
            chips,
            pit: get(cursor, "the PIT")?,
            clock: get(cursor, "the KVM clock")?,
        })
    }
}

//! What `system_reset` puts back: each vCPU and the in-kernel interrupt
//! controllers and PIT as KVM created them, which is their power-on state.
//! QEMU resets the same pieces through its reset handlers
//! (`kvm_arch_reset_vcpu`, `kvm_pic_reset`, `kvm_ioapic_reset`,
//! `kvm_pit_reset`).

use crate::error::{Error, Result};
use kvm_bindings::{
    kvm_debugregs, kvm_fpu, kvm_irqchip, kvm_lapic_state, kvm_mp_state, kvm_pit_state2, kvm_regs,
    kvm_sregs, kvm_vcpu_events, Msrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
    KVM_IRQCHIP_PIC_SLAVE,
};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

/// The MSRs a guest may have pointed at its memory or changed for its
/// own use, put back at reset when KVM has them: kvmclock's wall clock and
/// system time (old and new numbers), async page faults, steal time, PV
/// EOI, SYSENTER and SYSCALL targets, the kernel GS base. A kvmclock MSR
/// left enabled would have KVM keep writing into the memory of the next
/// boot.
const RESET_MSRS: [u32; 16] = [
    0x11,
    0x12,
    0x4b56_4d00,
    0x4b56_4d01,
    0x4b56_4d02,
    0x4b56_4d03,
    0x4b56_4d04,
    0x174,
    0x175,
    0x176,
    0xc000_0081,
    0xc000_0082,
    0xc000_0083,
    0xc000_0084,
    0xc000_0102,
    0x277,
];

/// MXCSR at power-on: every SSE exception masked.
const MXCSR_RESET: u32 = 0x1f80;

/// One vCPU as created, in the x86 power-on state.
pub(crate) struct VcpuReset {
    regs: kvm_regs,
    sregs: kvm_sregs,
    fpu: kvm_fpu,
    debugregs: kvm_debugregs,
    events: kvm_vcpu_events,
    mp_state: kvm_mp_state,
    lapic: kvm_lapic_state,
    msrs: Msrs,
}

impl VcpuReset {
    /// Reads `vcpu`'s state, and the values of the [`RESET_MSRS`] that
    /// `kvm` supports. EDX holds the processor signature, `cpuid_version`
    /// (CPUID leaf 1's EAX), as after a hardware reset.
    pub(crate) fn capture(kvm: &Kvm, vcpu: &VcpuFd, cpuid_version: u32) -> Result<VcpuReset> {
        let supported = kvm
            .get_msr_index_list()
            .map_err(Error::kvm("KVM_GET_MSR_INDEX_LIST"))?;
        let wanted: Vec<u32> = RESET_MSRS
            .iter()
            .copied()
            .filter(|index| supported.as_slice().contains(index))
            .collect();
        // An MSR KVM cannot read is left out (as a migration does).
        let entries = crate::migration::read_msrs(vcpu, &wanted)?;
        let msrs = Msrs::from_entries(&entries).map_err(|e| Error::Vcpu {
            index: 0,
            reason: format!("cannot keep {} MSRs: {e:?}", entries.len()),
        })?;
        let mut fpu = vcpu.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?;
        // The SSE control register's power-on value, which KVM leaves at 0
        // (QEMU's `x86_cpu_reset` sets it too).
        fpu.mxcsr = MXCSR_RESET;
        let mut regs = vcpu.get_regs().map_err(Error::kvm("KVM_GET_REGS"))?;
        // `x86_cpu_reset`: `env->regs[R_EDX] = env->cpuid_version`.
        regs.rdx = cpuid_version.into();
        Ok(VcpuReset {
            regs,
            sregs: vcpu.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?,
            fpu,
            debugregs: vcpu
                .get_debug_regs()
                .map_err(Error::kvm("KVM_GET_DEBUGREGS"))?,
            events: vcpu
                .get_vcpu_events()
                .map_err(Error::kvm("KVM_GET_VCPU_EVENTS"))?,
            mp_state: vcpu
                .get_mp_state()
                .map_err(Error::kvm("KVM_GET_MP_STATE"))?,
            lapic: vcpu.get_lapic().map_err(Error::kvm("KVM_GET_LAPIC"))?,
            msrs,
        })
    }

    /// Puts the state back: CS:IP = f000:fff0 with base 0xffff0000, the
    /// local APIC, no pending event, the MSRs.
    pub(crate) fn restore(&self, vcpu: &VcpuFd) -> Result<()> {
        vcpu.set_regs(&self.regs)
            .map_err(Error::kvm("KVM_SET_REGS"))?;
        vcpu.set_sregs(&self.sregs)
            .map_err(Error::kvm("KVM_SET_SREGS"))?;
        vcpu.set_fpu(&self.fpu).map_err(Error::kvm("KVM_SET_FPU"))?;
        vcpu.set_debug_regs(&self.debugregs)
            .map_err(Error::kvm("KVM_SET_DEBUGREGS"))?;
        vcpu.set_lapic(&self.lapic)
            .map_err(Error::kvm("KVM_SET_LAPIC"))?;
        vcpu.set_vcpu_events(&self.events)
            .map_err(Error::kvm("KVM_SET_VCPU_EVENTS"))?;
        vcpu.set_mp_state(self.mp_state)
            .map_err(Error::kvm("KVM_SET_MP_STATE"))?;
        let written = vcpu
            .set_msrs(&self.msrs)
            .map_err(Error::kvm("KVM_SET_MSRS"))?;
        if written != self.msrs.as_slice().len() {
            let index = self.msrs.as_slice().get(written).map_or(0, |m| m.index);
            return Err(Error::Vcpu {
                index: 0,
                reason: format!("KVM_SET_MSRS refused MSR {index:#x} at reset"),
            });
        }
        Ok(())
    }
}

/// The in-kernel PICs, IOAPIC and PIT as created.
pub(crate) struct ChipsReset {
    chips: [kvm_irqchip; 3],
    pit: kvm_pit_state2,
}

impl ChipsReset {
    pub(crate) fn capture(vm: &VmFd) -> Result<ChipsReset> {
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
        let pit = vm.get_pit2().map_err(Error::kvm("KVM_GET_PIT2"))?;
        Ok(ChipsReset { chips, pit })
    }

    pub(crate) fn restore(&self, vm: &VmFd) -> Result<()> {
        for chip in &self.chips {
            vm.set_irqchip(chip)
                .map_err(Error::kvm("KVM_SET_IRQCHIP"))?;
        }
        vm.set_pit2(&self.pit).map_err(Error::kvm("KVM_SET_PIT2"))
    }
}

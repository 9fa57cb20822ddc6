//! KVM's state structures carried as their bytes.
//!
//! The structures of `kvm-bindings` are the kernel's UAPI, `repr(C)`,
//! made of integers, arrays of integers and unions of those. Two things
//! make viewing one as bytes, and building one from bytes, sound:
//! every bit pattern is a valid value of every field (integers), and no
//! byte is padding (padding may be uninitialised, and reading it as a
//! `u8` is undefined behaviour). The first holds by the field types, the
//! second is checked here at compile time for every structure listed:
//! [`abi!`] asserts that the fields, in order, tile the structure with
//! no gap and no tail. (The kernel declares its padding as fields, for
//! the 32/64-bit ABI's sake, which is why they do.) This replaces
//! `zerocopy`'s derive, which would bring a second major version of `syn`
//! into the build (`.ci/one-syn.sh`).

use kvm_bindings::{
    kvm_clock_data, kvm_debugregs, kvm_dtable, kvm_fpu, kvm_irqchip, kvm_irqchip__bindgen_ty_1,
    kvm_lapic_state, kvm_mp_state, kvm_pit_channel_state, kvm_pit_state2, kvm_regs, kvm_segment,
    kvm_sregs, kvm_vcpu_events, kvm_vcpu_events__bindgen_ty_1, kvm_vcpu_events__bindgen_ty_2,
    kvm_vcpu_events__bindgen_ty_3, kvm_vcpu_events__bindgen_ty_4, kvm_vcpu_events__bindgen_ty_5,
    kvm_xcr, kvm_xcrs,
};
use std::mem::{offset_of, size_of};

/// A KVM structure whose bytes are all initialised and any of whose bit
/// patterns is a value.
///
/// # Safety
/// `Self` is `repr(C)`, made only of integers, arrays and unions of
/// integers and other `KvmAbi` types, with no padding byte. Implemented
/// only through [`abi!`], which checks the padding at compile time.
pub(super) unsafe trait KvmAbi: Copy + Default {
    /// The value's bytes.
    fn bytes(&self) -> &[u8] {
        // SAFETY: `self` is `size_of::<Self>()` readable bytes, every one
        // initialised (no padding: the trait's contract), borrowed for the
        // slice's lifetime.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast(), size_of::<Self>()) }
    }

    /// The value with exactly these bytes; `None` if the length differs.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != size_of::<Self>() {
            return None;
        }
        let mut value = Self::default();
        // SAFETY: `value` is `size_of::<Self>()` writable bytes, the
        // source as many readable ones, and the two do not overlap (a
        // local and a borrowed slice); any bytes are a valid `Self` (the
        // trait's contract).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (&mut value as *mut Self).cast::<u8>(),
                size_of::<Self>(),
            )
        };
        Some(value)
    }
}

/// The size of the field `field` picks out: a `const` way to name a
/// field's type.
const fn field_size<T, F>(_field: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Implements [`KvmAbi`] for each structure, after asserting at compile
/// time that its listed fields (all of them, in order) start each where
/// the one before ends and end where the structure does.
macro_rules! abi {
    ($($t:ty { $($field:ident),+ $(,)? })*) => {$(
        const _: () = {
            let mut end = 0;
            $(
                assert!(offset_of!($t, $field) == end, concat!(
                    "padding before ", stringify!($t), "::", stringify!($field)
                ));
                end += field_size(|v: &$t| &v.$field);
            )+
            assert!(end == size_of::<$t>(), concat!("padding at the end of ", stringify!($t)));
        };
        // SAFETY: `repr(C)` bindgen output of the kernel's UAPI: integers,
        // arrays of integers and the types above; no padding, asserted
        // just above.
        unsafe impl KvmAbi for $t {}
    )*};
}

abi! {
    kvm_regs {
        rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15, rip, rflags
    }
    kvm_segment {
        base, limit, selector, type_, present, dpl, db, s, l, g, avl, unusable, padding
    }
    kvm_dtable { base, limit, padding }
    kvm_sregs {
        cs, ds, es, fs, gs, ss, tr, ldt, gdt, idt, cr0, cr2, cr3, cr4, cr8, efer, apic_base,
        interrupt_bitmap
    }
    kvm_xcr { xcr, reserved, value }
    kvm_xcrs { nr_xcrs, flags, xcrs, padding }
    kvm_lapic_state { regs }
    kvm_vcpu_events__bindgen_ty_1 { injected, nr, has_error_code, pending, error_code }
    kvm_vcpu_events__bindgen_ty_2 { injected, nr, soft, shadow }
    kvm_vcpu_events__bindgen_ty_3 { injected, pending, masked, pad }
    kvm_vcpu_events__bindgen_ty_4 { smm, pending, smm_inside_nmi, latched_init }
    kvm_vcpu_events__bindgen_ty_5 { pending }
    kvm_vcpu_events {
        exception, interrupt, nmi, sipi_vector, flags, smi, triple_fault, reserved,
        exception_has_payload, exception_payload
    }
    kvm_mp_state { mp_state }
    kvm_fpu { fpr, fcw, fsw, ftwx, pad1, last_opcode, last_ip, last_dp, xmm, mxcsr, pad2 }
    kvm_debugregs { db, dr6, dr7, flags, reserved }
    kvm_irqchip { chip_id, pad, chip }
    kvm_pit_channel_state {
        count, latched_count, count_latched, status_latched, status, read_state, write_state,
        write_latch, rw_mode, mode, bcd, gate, count_load_time
    }
    kvm_pit_state2 { channels, flags, reserved }
    kvm_clock_data { clock, flags, pad0, realtime, host_tsc, pad }
}

// The irqchip's union: its `dummy` member, `[c_char; 512]`, covers every
// byte (the PIC and IOAPIC states are smaller), so no byte of it is
// padding.
const _: () = assert!(
    size_of::<kvm_irqchip__bindgen_ty_1>() == 512
        && offset_of!(kvm_irqchip__bindgen_ty_1, dummy) == 0
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_structure_round_trips_through_its_bytes() {
        let regs = kvm_regs {
            rax: 0x0123_4567_89ab_cdef,
            rip: 0xfff0,
            rflags: 2,
            ..Default::default()
        };
        let bytes = regs.bytes().to_vec();
        assert_eq!(bytes.len(), 18 * 8);
        assert_eq!(&bytes[..8], &0x0123_4567_89ab_cdef_u64.to_ne_bytes());
        let back = kvm_regs::from_bytes(&bytes).expect("same length");
        assert_eq!((back.rax, back.rip, back.rflags), (regs.rax, 0xfff0, 2));
        assert!(
            kvm_regs::from_bytes(&bytes[1..]).is_none(),
            "a short slice is refused"
        );
    }
}

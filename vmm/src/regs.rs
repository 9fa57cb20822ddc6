//! A vCPU's registers, printed as HMP's `info registers` prints them
//! (QEMU's `x86_cpu_dump_state`, `target/i386/cpu-dump.c`).

use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs};
use std::fmt;

/// General-purpose and system registers of one vCPU.
#[derive(Clone, Copy)]
pub struct Registers {
    /// General-purpose registers, RIP and RFLAGS.
    pub regs: kvm_regs,
    /// Segment, descriptor-table and control registers.
    pub sregs: kvm_sregs,
}

impl Registers {
    /// The linear address of the next instruction (CS base + RIP).
    pub fn pc(&self) -> u64 {
        self.sregs.cs.base.wrapping_add(self.regs.rip)
    }
}

impl fmt::Debug for Registers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Flag letters in `x86_cpu_dump_state`'s order: OF DF SF ZF AF PF CF.
fn flag_letters(rflags: u64) -> String {
    [
        (11, 'O'),
        (10, 'D'),
        (7, 'S'),
        (6, 'Z'),
        (4, 'A'),
        (2, 'P'),
        (0, 'C'),
    ]
    .iter()
    .map(|&(bit, c)| if rflags >> bit & 1 == 1 { c } else { '-' })
    .collect()
}

fn segment(f: &mut fmt::Formatter<'_>, name: &str, s: &kvm_segment) -> fmt::Result {
    // QEMU prints the descriptor's flags word: type, S, DPL, P at bits
    // 8-15, AVL, L, D/B, G at bits 20-23.
    let flags = u32::from(s.type_) << 8
        | u32::from(s.s) << 12
        | u32::from(s.dpl) << 13
        | u32::from(s.present) << 15
        | u32::from(s.avl) << 20
        | u32::from(s.l) << 21
        | u32::from(s.db) << 22
        | u32::from(s.g) << 23;
    writeln!(
        f,
        "{name:<3}={:04x} {:016x} {:08x} {flags:08x}",
        s.selector, s.base, s.limit
    )
}

impl fmt::Display for Registers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.regs;
        let s = &self.sregs;
        writeln!(
            f,
            "RAX={:016x} RBX={:016x} RCX={:016x} RDX={:016x}",
            r.rax, r.rbx, r.rcx, r.rdx
        )?;
        writeln!(
            f,
            "RSI={:016x} RDI={:016x} RBP={:016x} RSP={:016x}",
            r.rsi, r.rdi, r.rbp, r.rsp
        )?;
        writeln!(
            f,
            "R8 ={:016x} R9 ={:016x} R10={:016x} R11={:016x}",
            r.r8, r.r9, r.r10, r.r11
        )?;
        writeln!(
            f,
            "R12={:016x} R13={:016x} R14={:016x} R15={:016x}",
            r.r12, r.r13, r.r14, r.r15
        )?;
        writeln!(
            f,
            "RIP={:016x} RFL={:08x} [{}] CPL={}",
            r.rip,
            r.rflags,
            flag_letters(r.rflags),
            s.cs.dpl
        )?;
        for (name, seg) in [
            ("ES", &s.es),
            ("CS", &s.cs),
            ("SS", &s.ss),
            ("DS", &s.ds),
            ("FS", &s.fs),
            ("GS", &s.gs),
            ("LDT", &s.ldt),
            ("TR", &s.tr),
        ] {
            segment(f, name, seg)?;
        }
        writeln!(f, "GDT=     {:016x} {:08x}", s.gdt.base, s.gdt.limit)?;
        writeln!(f, "IDT=     {:016x} {:08x}", s.idt.base, s.idt.limit)?;
        writeln!(
            f,
            "CR0={:08x} CR2={:016x} CR3={:016x} CR4={:08x}",
            s.cr0, s.cr2, s.cr3, s.cr4
        )?;
        write!(f, "EFER={:016x}", s.efer)
    }
}

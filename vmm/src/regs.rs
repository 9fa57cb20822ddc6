//! A vCPU's state, printed as HMP's `info registers` prints it: QEMU's
//! `x86_cpu_dump_state` with `CPU_DUMP_FPU` (`target/i386/cpu-dump.c`),
//! in its 32-bit layout unless the vCPU runs 64-bit code. With AVX-512
//! enabled in XCR0 QEMU prints ZMM registers; this prints their YMM part.

use kvm_bindings::{kvm_debugregs, kvm_fpu, kvm_regs, kvm_segment, kvm_sregs};
use std::fmt;

const CR0_PE: u64 = 1 << 0;
const EFER_LMA: u64 = 1 << 10;
const XCR0_AVX: u64 = 0b110;
/// Where the x87 registers, XMM0-15 and the high halves of YMM0-15 are in
/// the XSAVE area (the FXSAVE layout, then `XSAVE_YMMH_OFFSET`).
const XSAVE_ST: usize = 32;
const XSAVE_XMM: usize = 160;
const XSAVE_YMMH: usize = 576;

/// The state of one vCPU that `info registers` shows.
#[derive(Clone)]
pub struct Registers {
    /// General-purpose registers, RIP and RFLAGS.
    pub regs: kvm_regs,
    /// Segment, descriptor-table and control registers, EFER.
    pub sregs: kvm_sregs,
    /// x87 and SSE state as `KVM_GET_FPU` reports it (used where there
    /// is no XSAVE area).
    pub fpu: kvm_fpu,
    /// DR0-3, DR6, DR7.
    pub debugregs: kvm_debugregs,
    /// An interrupt shadow is in effect (`II=`).
    pub interrupt_shadow: bool,
    /// The vCPU waits in HLT (`HLT=`).
    pub halted: bool,
    /// XCR0 (1, x87 only, where KVM has no XCRs).
    pub xcr0: u64,
    /// The XSAVE area, where KVM has one: the x87, SSE and AVX state are
    /// read from it, as QEMU does.
    pub xsave: Option<Box<[u32; 1024]>>,
}

/// The x87 and SSE state in the FXSAVE layout's terms.
struct FxState {
    fcw: u16,
    fsw: u16,
    ftw: u8,
    mxcsr: u32,
    /// Mantissa and sign/exponent of ST0-7.
    st: [(u64, u16); 8],
    /// High and low halves of XMM0-15.
    xmm: [(u64, u64); 16],
}

impl Registers {
    /// The linear address of the next instruction (CS base + RIP).
    pub fn pc(&self) -> u64 {
        self.sregs.cs.base.wrapping_add(self.regs.rip)
    }

    /// QEMU's `HF_CS64_MASK`: 64-bit code.
    fn code64(&self) -> bool {
        self.sregs.efer & EFER_LMA != 0 && self.sregs.cs.l != 0
    }

    fn long_mode(&self) -> bool {
        self.sregs.efer & EFER_LMA != 0
    }

    /// A little-endian field of the XSAVE area (0 past its end).
    fn xsave_bytes(area: &[u32; 1024], at: usize, len: usize) -> u64 {
        (0..len).fold(0, |value, i| {
            let byte = area
                .get((at + i) / 4)
                .map_or(0, |d| d >> (8 * ((at + i) % 4)) & 0xff);
            value | u64::from(byte) << (8 * i)
        })
    }

    fn fx_state(&self) -> FxState {
        let Some(area) = self.xsave.as_deref() else {
            let x = &self.fpu;
            let quad = |bytes: &[u8]| u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
            return FxState {
                fcw: x.fcw,
                fsw: x.fsw,
                ftw: x.ftwx,
                mxcsr: x.mxcsr,
                st: std::array::from_fn(|i| {
                    let exponent = u16::from_le_bytes([x.fpr[i][8], x.fpr[i][9]]);
                    (quad(&x.fpr[i]), exponent)
                }),
                xmm: std::array::from_fn(|i| (quad(&x.xmm[i][8..]), quad(&x.xmm[i]))),
            };
        };
        let field = |at, len| Self::xsave_bytes(area, at, len);
        FxState {
            fcw: field(0, 2) as u16,
            fsw: field(2, 2) as u16,
            ftw: field(4, 1) as u8,
            mxcsr: field(24, 4) as u32,
            st: std::array::from_fn(|i| {
                let at = XSAVE_ST + 16 * i;
                (field(at, 8), field(at + 8, 2) as u16)
            }),
            xmm: std::array::from_fn(|i| {
                let at = XSAVE_XMM + 16 * i;
                (field(at + 8, 8), field(at, 8))
            }),
        }
    }

    /// The high 128 bits of YMM `index` from the XSAVE area.
    fn ymm_high(&self, index: usize) -> (u64, u64) {
        let Some(area) = self.xsave.as_deref() else {
            return (0, 0);
        };
        let at = XSAVE_YMMH + 16 * index;
        (
            Self::xsave_bytes(area, at + 8, 8),
            Self::xsave_bytes(area, at, 8),
        )
    }
}

impl fmt::Debug for Registers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The flag letters of `x86_cpu_dump_state`: D O S Z A P C.
fn flag_letters(rflags: u64) -> String {
    [
        (10, 'D'),
        (11, 'O'),
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

/// `cpu_x86_dump_seg_cache`: selector, base, limit, the descriptor's flags
/// word (type, S, DPL, P at bits 8-15; AVL, L, D/B, G at 20-23, as QEMU's
/// `get_seg` builds it from KVM's segment), then, in protected mode for a
/// present segment, its decoded kind.
fn segment(f: &mut fmt::Formatter<'_>, r: &Registers, name: &str, s: &kvm_segment) -> fmt::Result {
    let flags = u32::from(s.type_) << 8
        | u32::from(s.s) << 12
        | u32::from(s.dpl) << 13
        | u32::from(s.present) << 15
        | u32::from(s.avl) << 20
        | u32::from(s.l) << 21
        | u32::from(s.db) << 22
        | u32::from(s.g) << 23;
    if r.code64() {
        write!(
            f,
            "{name:<3}={:04x} {:016x} {:08x} {flags:08x}",
            s.selector, s.base, s.limit
        )?;
    } else {
        let base = s.base as u32;
        write!(
            f,
            "{name:<3}={:04x} {base:08x} {:08x} {flags:08x}",
            s.selector, s.limit
        )?;
    }
    if r.sregs.cr0 & CR0_PE == 0 || s.present == 0 {
        return writeln!(f);
    }
    write!(f, " DPL={} ", s.dpl)?;
    let kind = s.type_;
    if s.s != 0 {
        let letter = |bit: u8, c: char| if kind & bit != 0 { c } else { '-' };
        if kind & 0x8 != 0 {
            let size = match (s.l, s.db) {
                (1, _) => "CS64",
                (_, 1) => "CS32",
                _ => "CS16",
            };
            write!(f, "{size} [{}{}", letter(0x4, 'C'), letter(0x2, 'R'))?;
        } else {
            let size = if s.db != 0 || r.long_mode() {
                "DS  "
            } else {
                "DS16"
            };
            write!(f, "{size} [{}{}", letter(0x4, 'E'), letter(0x2, 'W'))?;
        }
        writeln!(f, "{}]", letter(0x1, 'A'))
    } else {
        const NAMES: [[&str; 16]; 2] = [
            [
                "Reserved",
                "TSS16-avl",
                "LDT",
                "TSS16-busy",
                "CallGate16",
                "TaskGate",
                "IntGate16",
                "TrapGate16",
                "Reserved",
                "TSS32-avl",
                "Reserved",
                "TSS32-busy",
                "CallGate32",
                "Reserved",
                "IntGate32",
                "TrapGate32",
            ],
            [
                "<hiword>",
                "Reserved",
                "LDT",
                "Reserved",
                "Reserved",
                "Reserved",
                "Reserved",
                "Reserved",
                "Reserved",
                "TSS64-avl",
                "Reserved",
                "TSS64-busy",
                "CallGate64",
                "Reserved",
                "IntGate64",
                "TrapGate64",
            ],
        ];
        writeln!(
            f,
            "{}",
            NAMES[usize::from(r.long_mode())][usize::from(kind & 0xf)]
        )
    }
}

impl fmt::Display for Registers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.regs;
        let s = &self.sregs;
        // CPL=, II=, A20= (KVM keeps A20 enabled), SMM= (no SMM here), HLT=.
        let tail = format!(
            "[{}] CPL={} II={} A20=1 SMM=0 HLT={}",
            flag_letters(r.rflags),
            s.ss.dpl,
            u8::from(self.interrupt_shadow),
            u8::from(self.halted)
        );
        if self.code64() {
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
            writeln!(f, "RIP={:016x} RFL={:08x} {tail}", r.rip, r.rflags)?;
        } else {
            let e = |v: u64| v as u32;
            writeln!(
                f,
                "EAX={:08x} EBX={:08x} ECX={:08x} EDX={:08x}",
                e(r.rax),
                e(r.rbx),
                e(r.rcx),
                e(r.rdx)
            )?;
            writeln!(
                f,
                "ESI={:08x} EDI={:08x} EBP={:08x} ESP={:08x}",
                e(r.rsi),
                e(r.rdi),
                e(r.rbp),
                e(r.rsp)
            )?;
            writeln!(f, "EIP={:08x} EFL={:08x} {tail}", e(r.rip), r.rflags)?;
        }
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
            segment(f, self, name, seg)?;
        }
        let d = &self.debugregs;
        if self.long_mode() {
            writeln!(f, "GDT=     {:016x} {:08x}", s.gdt.base, s.gdt.limit)?;
            writeln!(f, "IDT=     {:016x} {:08x}", s.idt.base, s.idt.limit)?;
            writeln!(
                f,
                "CR0={:08x} CR2={:016x} CR3={:016x} CR4={:08x}",
                s.cr0 as u32, s.cr2, s.cr3, s.cr4 as u32
            )?;
        } else {
            writeln!(f, "GDT=     {:08x} {:08x}", s.gdt.base as u32, s.gdt.limit)?;
            writeln!(f, "IDT=     {:08x} {:08x}", s.idt.base as u32, s.idt.limit)?;
            writeln!(
                f,
                "CR0={:08x} CR2={:08x} CR3={:08x} CR4={:08x}",
                s.cr0 as u32, s.cr2 as u32, s.cr3 as u32, s.cr4 as u32
            )?;
        }
        // qemu-system-x86_64's target_ulong is 64 bits in both layouts.
        for (i, dr) in d.db.iter().enumerate() {
            write!(f, "DR{i}={dr:016x} ")?;
        }
        writeln!(f)?;
        writeln!(f, "DR6={:016x} DR7={:016x}", d.dr6, d.dr7)?;
        writeln!(f, "EFER={:016x}", s.efer)?;
        self.fpu_state(f)
    }
}

impl Registers {
    /// The `CPU_DUMP_FPU` part: control words, the eight x87 registers,
    /// then XMM (or YMM when XCR0 enables AVX) registers, eight of them
    /// outside 64-bit code.
    fn fpu_state(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.fx_state();
        writeln!(
            f,
            "FCW={:04x} FSW={:04x} [ST={}] FTW={:02x} MXCSR={:08x}",
            x.fcw,
            x.fsw,
            (x.fsw >> 11) & 7,
            x.ftw,
            x.mxcsr
        )?;
        for (i, (mantissa, exponent)) in x.st.iter().enumerate() {
            let end = if i & 1 == 1 { "\n" } else { " " };
            write!(f, "FPR{i}={mantissa:016x} {exponent:04x}{end}")?;
        }
        let count = if self.code64() { 16 } else { 8 };
        for (i, &(high, low)) in x.xmm.iter().enumerate().take(count) {
            if self.xcr0 & XCR0_AVX == XCR0_AVX {
                let (top, upper) = self.ymm_high(i);
                writeln!(
                    f,
                    "YMM{i:02}={top:016x} {upper:016x} {high:016x} {low:016x}"
                )?;
            } else {
                let end = if i & 1 == 1 { "\n" } else { " " };
                write!(f, "XMM{i:02}={high:016x} {low:016x}{end}")?;
            }
        }
        Ok(())
    }
}

//! The VM: creation, the in-kernel devices, memory slots, the vCPU
//! threads and the run state the monitor's `stop`/`cont`/`system_reset`/
//! `info status` act on.

use crate::board::Board;
use crate::error::{Error, Result};
use crate::regs::Registers;
use crate::slots::KvmSlots;
use crate::vcpu;
use kvm_bindings::{kvm_fpu, kvm_pit_config, kvm_regs, kvm_sregs, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm, VcpuFd};
use qom_devices::memory::MemoryListener;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vmm_sys_util::signal::Killable;

/// Where KVM puts the identity-mapped page table and the TSS it needs for
/// real mode on some hosts: QEMU's `identity_base` (`kvm_arch_init`,
/// `target/i386/kvm/kvm.c`), just below the BIOS. The board's e820 map
/// reserves it.
pub const IDENTITY_MAP_ADDR: u64 = 0xfeff_c000;

/// How a VM starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmOptions {
    /// Stay paused until [`Vm::resume`] (QEMU's `-S`).
    pub start_paused: bool,
}

/// The machine's run state, as HMP's `info status` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Created with `start_paused` and never resumed (`-S`).
    Prelaunch,
    /// Running guest code.
    Running,
    /// Stopped by [`Vm::pause`] (`stop`).
    Paused,
    /// The guest asked to stop through an exit device, with this code.
    GuestExit(u32),
    /// The guest shut down (triple fault, HLT without an interrupt
    /// controller, a system event); says which and where.
    Shutdown(String),
    /// The accelerator could not go on (failed entry, unhandled exit).
    InternalError(String),
}

impl fmt::Display for RunState {
    /// `info status` wording, with the reason where there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunState::Prelaunch => write!(f, "VM status: paused (prelaunch)"),
            RunState::Running => write!(f, "VM status: running"),
            RunState::Paused => write!(f, "VM status: paused"),
            RunState::GuestExit(code) => write!(f, "VM status: shutdown (guest exit, code {code})"),
            RunState::Shutdown(why) => write!(f, "VM status: shutdown ({why})"),
            RunState::InternalError(why) => write!(f, "VM status: paused (internal-error: {why})"),
        }
    }
}

struct Shared {
    state: RunState,
    /// vCPU threads parked (out of `KVM_RUN`, holding no vCPU).
    parked: usize,
    quit: bool,
}

/// The run state and the vCPU threads' rendezvous.
pub(crate) struct Control {
    shared: Mutex<Shared>,
    changed: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks the calling vCPU thread until the machine runs; false when
    /// the thread must end.
    pub(crate) fn wait_until_running(&self) -> bool {
        let mut shared = self.lock();
        if shared.state == RunState::Running && !shared.quit {
            return true;
        }
        shared.parked += 1;
        self.changed.notify_all();
        while shared.state != RunState::Running && !shared.quit {
            shared = self.changed.wait(shared).unwrap_or_else(|e| e.into_inner());
        }
        shared.parked -= 1;
        !shared.quit
    }

    /// A vCPU or device stops the machine in `state` (unless it already
    /// stopped: the first reason wins).
    pub(crate) fn stop(&self, state: RunState) {
        let mut shared = self.lock();
        if shared.state == RunState::Running {
            shared.state = state;
            self.changed.notify_all();
        }
    }
}

struct VcpuThread {
    fd: Arc<Mutex<VcpuFd>>,
    thread: Option<JoinHandle<()>>,
    /// Registers at creation: the x86 reset state `system_reset` restores.
    reset_regs: kvm_regs,
    reset_sregs: kvm_sregs,
    reset_fpu: kvm_fpu,
}

/// A KVM virtual machine running a [`Board`].
pub struct Vm {
    board: Arc<dyn Board>,
    // Kept for the VM's life: KVM wants the system fd open while its VMs run.
    _kvm: Kvm,
    slots: Arc<KvmSlots>,
    control: Arc<Control>,
    vcpus: Vec<VcpuThread>,
}

/// Opens `/dev/kvm` and checks the API this accelerator needs.
pub(crate) fn open_kvm() -> Result<Kvm> {
    let kvm =
        Kvm::new().map_err(|e| Error::KvmUnavailable(format!("cannot open /dev/kvm: {e}")))?;
    for (cap, capability, needed_for) in [
        (
            Cap::Irqchip,
            "KVM_CAP_IRQCHIP",
            "the in-kernel PIC, IOAPIC and local APIC",
        ),
        (Cap::Pit2, "KVM_CAP_PIT2", "the in-kernel PIT"),
        (Cap::UserMemory, "KVM_CAP_USER_MEMORY", "guest RAM"),
        (Cap::ExtCpuid, "KVM_CAP_EXT_CPUID", "CPUID"),
    ] {
        if !kvm.check_extension(cap) {
            return Err(Error::MissingCapability {
                capability,
                needed_for,
            });
        }
    }
    Ok(kvm)
}

impl Vm {
    /// Creates the VM for `board`: in-kernel irqchip and PIT, memory slots
    /// for the board's RAM, one vCPU with the host's supported CPUID in the
    /// x86 reset state, running unless `options.start_paused`.
    pub fn new(board: Arc<dyn Board>, options: VmOptions) -> Result<Vm> {
        let kvm = open_kvm()?;
        // Without read-only slots the guest could not execute its ROM.
        if !kvm.check_extension(Cap::ReadonlyMem) {
            return Err(Error::MissingCapability {
                capability: "KVM_CAP_READONLY_MEM",
                needed_for: "firmware executing from ROM",
            });
        }
        vcpu::install_kick_handler().map_err(|reason| Error::Vcpu { index: 0, reason })?;
        let fd = Arc::new(kvm.create_vm().map_err(Error::kvm("KVM_CREATE_VM"))?);
        fd.set_identity_map_address(IDENTITY_MAP_ADDR)
            .map_err(Error::kvm("KVM_SET_IDENTITY_MAP_ADDR"))?;
        fd.set_tss_address(IDENTITY_MAP_ADDR as usize + 0x1000)
            .map_err(Error::kvm("KVM_SET_TSS_ADDR"))?;
        fd.create_irq_chip()
            .map_err(Error::kvm("KVM_CREATE_IRQCHIP"))?;
        // QEMU's default for the in-kernel PIT (`kvm_pit_realizefn`): no
        // flags, so it owns the speaker port 0x61 as well.
        fd.create_pit2(kvm_pit_config::default())
            .map_err(Error::kvm("KVM_CREATE_PIT2"))?;

        let slots = Arc::new(KvmSlots::new(fd.clone(), true));
        let listener: Arc<dyn MemoryListener> = slots.clone();
        board.system_memory().add_listener(listener);
        let irq_fd = fd.clone();
        board.connect_irqs(Arc::new(move |gsi, level| {
            if let Err(e) = irq_fd.set_irq_line(gsi, level) {
                tracing::warn!(target: "kvm", gsi, level, "KVM_IRQ_LINE failed: {e}");
            }
        }));
        let control = Arc::new(Control {
            shared: Mutex::new(Shared {
                state: if options.start_paused {
                    RunState::Prelaunch
                } else {
                    RunState::Running
                },
                parked: 0,
                quit: false,
            }),
            changed: Condvar::new(),
        });
        let exit_control = control.clone();
        board.connect_exit(Arc::new(move |code| {
            exit_control.stop(RunState::GuestExit(code));
        }));

        let mut vm = Vm {
            board,
            _kvm: kvm,
            slots,
            control,
            vcpus: Vec::new(),
        };
        let cpuid = vm
            ._kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::kvm("KVM_GET_SUPPORTED_CPUID"))?;
        let index = 0;
        let vcpu = fd
            .create_vcpu(index as u64)
            .map_err(Error::kvm("KVM_CREATE_VCPU"))?;
        vcpu.set_cpuid2(&cpuid)
            .map_err(Error::kvm("KVM_SET_CPUID2"))?;
        let reset_regs = vcpu.get_regs().map_err(Error::kvm("KVM_GET_REGS"))?;
        let reset_sregs = vcpu.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?;
        let reset_fpu = vcpu.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?;
        let vcpu = Arc::new(Mutex::new(vcpu));
        let thread = {
            let (vcpu, board, control) = (vcpu.clone(), vm.board.clone(), vm.control.clone());
            std::thread::Builder::new()
                .name(format!("vcpu{index}"))
                .spawn(move || vcpu::thread_main(index, vcpu, board, control))
                .map_err(|e| Error::Vcpu {
                    index,
                    reason: format!("cannot start its thread: {e}"),
                })?
        };
        vm.vcpus.push(VcpuThread {
            fd: vcpu,
            thread: Some(thread),
            reset_regs,
            reset_sregs,
            reset_fpu,
        });
        Ok(vm)
    }

    /// The board.
    pub fn board(&self) -> &Arc<dyn Board> {
        &self.board
    }

    /// The run state (`info status`).
    pub fn status(&self) -> RunState {
        self.control.lock().state.clone()
    }

    /// Starts or continues the guest (`cont`). Does nothing once the guest
    /// has shut down or failed.
    pub fn resume(&self) {
        let mut shared = self.control.lock();
        if matches!(shared.state, RunState::Prelaunch | RunState::Paused) {
            shared.state = RunState::Running;
            self.control.changed.notify_all();
        }
    }

    /// Stops the guest (`stop`) and returns once every vCPU is out of
    /// `KVM_RUN`.
    pub fn pause(&self) -> Result<()> {
        {
            let mut shared = self.control.lock();
            if shared.state == RunState::Running {
                shared.state = RunState::Paused;
            }
        }
        self.kick_until_parked()
    }

    /// Interrupts every vCPU until all are parked. A kick that lands just
    /// before a thread enters `KVM_RUN` is lost, so kick again each
    /// millisecond until each thread has seen the new state.
    fn kick_until_parked(&self) -> Result<()> {
        let mut shared = self.control.lock();
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.parked < self.vcpus.len() {
            for (index, vcpu) in self.vcpus.iter().enumerate() {
                if let Some(thread) = &vcpu.thread {
                    if thread.is_finished() {
                        return Err(Error::Vcpu {
                            index,
                            reason: "its thread has ended".into(),
                        });
                    }
                    // An error means the thread is gone; checked above.
                    let _ = thread.kill(vcpu::kick_signal());
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Vcpu {
                    index: 0,
                    reason: "did not leave KVM_RUN within 5 s of being kicked".into(),
                });
            }
            shared = self
                .control
                .changed
                .wait_timeout(shared, Duration::from_millis(1))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(())
    }

    /// Runs `f` with every vCPU parked, then lets the machine go on in
    /// the state it had.
    fn with_stopped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let was_running = self.status() == RunState::Running;
        self.pause()?;
        let result = f();
        if was_running {
            self.resume();
        }
        result
    }

    /// The registers of vCPU `index` (`info registers`), read with the
    /// machine stopped for the moment.
    pub fn registers(&self) -> Result<Registers> {
        self.with_stopped(|| {
            let vcpu = self.vcpus.first().ok_or(Error::Vcpu {
                index: 0,
                reason: "no such vCPU".into(),
            })?;
            let fd = vcpu.fd.lock().unwrap_or_else(|e| e.into_inner());
            Ok(Registers {
                regs: fd.get_regs().map_err(Error::kvm("KVM_GET_REGS"))?,
                sregs: fd.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?,
            })
        })
    }

    /// Cold reset (`system_reset`): every device, then each vCPU back to
    /// the register state it had when created (CS:IP = f000:fff0, base
    /// 0xffff0000). The run state is kept, except that a shut-down or
    /// exited guest is paused. The in-kernel PIC, IOAPIC and PIT keep
    /// their state (QEMU resets them through `kvm_*_reset`; not done yet).
    pub fn reset(&self) -> Result<()> {
        self.with_stopped(|| {
            self.board.reset();
            self.board.system_memory().refresh();
            for vcpu in &self.vcpus {
                let fd = vcpu.fd.lock().unwrap_or_else(|e| e.into_inner());
                fd.set_regs(&vcpu.reset_regs)
                    .map_err(Error::kvm("KVM_SET_REGS"))?;
                fd.set_sregs(&vcpu.reset_sregs)
                    .map_err(Error::kvm("KVM_SET_SREGS"))?;
                fd.set_fpu(&vcpu.reset_fpu)
                    .map_err(Error::kvm("KVM_SET_FPU"))?;
            }
            let mut shared = self.control.lock();
            if matches!(shared.state, RunState::GuestExit(_) | RunState::Shutdown(_)) {
                shared.state = RunState::Paused;
            }
            Ok(())
        })
    }

    /// Waits until the run state satisfies `done` or `timeout` passes;
    /// returns the state it last saw.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&RunState) -> bool) -> RunState {
        let deadline = Instant::now() + timeout;
        let mut shared = self.control.lock();
        while !done(&shared.state) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            shared = self
                .control
                .changed
                .wait_timeout(shared, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        shared.state.clone()
    }
}

impl Drop for Vm {
    /// Ends the vCPU threads, then unmaps guest memory and unwires the
    /// board from this VM.
    fn drop(&mut self) {
        self.control.lock().quit = true;
        self.control.changed.notify_all();
        let _ = self.kick_until_parked();
        for vcpu in &mut self.vcpus {
            if let Some(thread) = vcpu.thread.take() {
                let _ = thread.join();
            }
        }
        let listener: Arc<dyn MemoryListener> = self.slots.clone();
        self.board.system_memory().remove_listener(&listener);
        self.board.connect_irqs(Arc::new(|_, _| {}));
        self.board.connect_exit(Arc::new(|_| {}));
    }
}

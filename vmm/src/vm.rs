//! The VM: creation, the in-kernel devices, memory slots, the vCPU thread
//! and the operations behind the monitor's `stop`, `cont`,
//! `system_reset`, `info status` and `info registers`.

use crate::control::{Control, RunState};
use crate::error::{Error, Result};
use crate::regs::Registers;
use crate::reset::{ChipsReset, VcpuReset};
use crate::slots::KvmSlots;
use crate::vcpu;
use kvm_bindings::{kvm_pit_config, KVM_MAX_CPUID_ENTRIES, KVM_MP_STATE_HALTED};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};
use qom_devices::memory::MemoryListener;
use qom_devices::Machine;
use std::sync::{Arc, Mutex};
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

pub(crate) struct VcpuThread {
    pub(crate) fd: Arc<Mutex<VcpuFd>>,
    thread: Option<JoinHandle<()>>,
    /// The state `system_reset` puts back.
    reset: VcpuReset,
}

/// A KVM virtual machine running a [`Machine`] that has CPUs (its board
/// lists [`CpuBoard`](qom_devices::machine::CpuBoard)).
pub struct Vm {
    pub(crate) machine: Arc<Machine>,
    // Kept for the VM's life: KVM wants the system fd open while its VMs
    // run; asked for the supported CPUID and MSRs when a vCPU is made.
    pub(crate) kvm: Kvm,
    pub(crate) fd: Arc<VmFd>,
    pub(crate) slots: Arc<KvmSlots>,
    pub(crate) control: Arc<Control>,
    chips: ChipsReset,
    pub(crate) vcpus: Vec<VcpuThread>,
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
        (
            Cap::ReadonlyMem,
            "KVM_CAP_READONLY_MEM",
            "firmware executing from ROM",
        ),
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
    /// Creates the VM for `machine`: in-kernel irqchip and PIT, memory
    /// slots for its RAM, one vCPU with the host's supported CPUID in the
    /// x86 reset state, running unless `options.start_paused`.
    pub fn new(machine: Arc<Machine>, options: VmOptions) -> Result<Vm> {
        let board = machine.cpu_board().ok_or_else(|| Error::NoCpu {
            machine: machine.name().to_string(),
        })?;
        let kvm = open_kvm()?;
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
        let chips = ChipsReset::capture(&fd)?;

        crate::migration::advise_huge_pages(&machine);
        let slots = Arc::new(KvmSlots::new(fd.clone()));
        let listener: Arc<dyn MemoryListener> = slots.clone();
        machine.system().add_listener(listener);
        let irq_fd = fd.clone();
        board.connect_irqs(Arc::new(move |gsi, level| {
            if let Err(e) = irq_fd.set_irq_line(gsi, level) {
                tracing::warn!(target: "kvm", gsi, level, "KVM_IRQ_LINE failed: {e}");
            }
        }));
        // PCI functions' message interrupts (MSI-X): KVM_SIGNAL_MSI
        // delivers them to the in-kernel local APIC as QEMU's
        // `kvm_irqchip_send_msi` does.
        let msi_fd = fd.clone();
        board.connect_msi(Arc::new(move |address, data| {
            let msi = kvm_bindings::kvm_msi {
                address_lo: address as u32,
                address_hi: (address >> 32) as u32,
                data,
                ..Default::default()
            };
            if let Err(e) = msi_fd.signal_msi(msi) {
                tracing::warn!(target: "kvm", address, data, "KVM_SIGNAL_MSI failed: {e}");
            }
        }));
        let state = if options.start_paused {
            RunState::Prelaunch
        } else {
            RunState::Running
        };
        let control = Arc::new(Control::new(state, machine.clock().clone()));
        let exit_control = control.clone();
        board.connect_exit(Arc::new(move |status| {
            exit_control.stop(RunState::GuestExit(status));
        }));

        let mut vm = Vm {
            machine,
            kvm,
            fd,
            slots,
            control,
            chips,
            vcpus: Vec::new(),
        };
        vm.add_vcpu(0)?;
        Ok(vm)
    }

    /// Creates vCPU `index` in the x86 reset state and starts its thread.
    fn add_vcpu(&mut self, index: usize) -> Result<()> {
        let cpuid = self
            .kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::kvm("KVM_GET_SUPPORTED_CPUID"))?;
        let vcpu = self
            .fd
            .create_vcpu(index as u64)
            .map_err(Error::kvm("KVM_CREATE_VCPU"))?;
        vcpu.set_cpuid2(&cpuid)
            .map_err(Error::kvm("KVM_SET_CPUID2"))?;
        let version = cpuid
            .as_slice()
            .iter()
            .find(|entry| entry.function == 1)
            .map_or(0, |entry| entry.eax);
        let reset = VcpuReset::capture(&self.kvm, &vcpu, version)?;
        reset.restore(&vcpu)?;
        let fd = Arc::new(Mutex::new(vcpu));
        let run_size = self.fd.run_size();
        let (vcpu, machine, control) = (fd.clone(), self.machine.clone(), self.control.clone());
        let thread = std::thread::Builder::new()
            .name(format!("vcpu{index}"))
            .spawn(move || vcpu::thread_main(index, vcpu, run_size, machine, control))
            .map_err(|e| Error::Vcpu {
                index,
                reason: format!("cannot start its thread: {e}"),
            })?;
        self.vcpus.push(VcpuThread {
            fd,
            thread: Some(thread),
            reset,
        });
        Ok(())
    }

    /// The machine.
    pub fn machine(&self) -> &Arc<Machine> {
        &self.machine
    }

    /// The run state (`info status`).
    pub fn status(&self) -> RunState {
        self.control.lock().state.clone()
    }

    /// Starts or continues the guest (`cont`). Does nothing once the guest
    /// has shut down or failed (`system_reset` makes it startable again).
    pub fn resume(&self) {
        let mut shared = self.control.lock();
        if matches!(
            shared.state,
            RunState::Prelaunch | RunState::Paused | RunState::PostMigrate
        ) {
            self.control.set(&mut shared, RunState::Running);
        }
    }

    /// Stops the guest (`stop`) and returns once every vCPU is out of
    /// `KVM_RUN`.
    pub fn pause(&self) -> Result<()> {
        {
            let mut shared = self.control.lock();
            if shared.state == RunState::Running {
                self.control.set(&mut shared, RunState::Paused);
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

    /// Runs `f` with every vCPU parked, then lets the machine go on if it
    /// was running.
    fn with_stopped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let was_running = self.status() == RunState::Running;
        self.pause()?;
        let result = f();
        if was_running {
            self.resume();
        }
        result
    }

    /// The state of vCPU 0 (`info registers`), read with the machine
    /// stopped for the moment.
    pub fn registers(&self) -> Result<Registers> {
        self.with_stopped(|| {
            let vcpu = self.vcpus.first().ok_or(Error::Vcpu {
                index: 0,
                reason: "no such vCPU".into(),
            })?;
            let fd = vcpu.fd.lock().unwrap_or_else(|e| e.into_inner());
            let events = fd
                .get_vcpu_events()
                .map_err(Error::kvm("KVM_GET_VCPU_EVENTS"))?;
            let mp_state = fd.get_mp_state().map_err(Error::kvm("KVM_GET_MP_STATE"))?;
            // XCR0 is 1 (x87 only) where KVM has no XCRs.
            let xcr0 = fd.get_xcrs().ok().and_then(|x| {
                let xcrs = x.xcrs.get(..x.nr_xcrs as usize)?;
                xcrs.iter().find(|x| x.xcr == 0).map(|x| x.value)
            });
            let xcr0 = xcr0.unwrap_or(1);
            // The XSAVE area, where KVM has one, is what QEMU reads too
            // (`kvm_get_xsave`); KVM_GET_FPU does not report MXCSR on
            // every host.
            let xsave = fd.get_xsave().ok().map(|area| Box::new(area.region));
            Ok(Registers {
                regs: fd.get_regs().map_err(Error::kvm("KVM_GET_REGS"))?,
                sregs: fd.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?,
                fpu: fd.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?,
                debugregs: fd
                    .get_debug_regs()
                    .map_err(Error::kvm("KVM_GET_DEBUGREGS"))?,
                interrupt_shadow: events.interrupt.shadow != 0,
                halted: mp_state.mp_state == KVM_MP_STATE_HALTED,
                xcr0,
                xsave,
            })
        })
    }

    /// Cold reset (`system_reset`): every device of the machine, the
    /// in-kernel PICs, IOAPIC and PIT, then each vCPU back to the state it
    /// was created in (CS:IP = f000:fff0, base 0xffff0000). A running
    /// guest goes on running; any other is left in `prelaunch`, for
    /// `cont`, as QEMU does.
    pub fn reset(&self) -> Result<()> {
        let was_running = self.status() == RunState::Running;
        self.pause()?;
        self.machine.reset();
        // The PAM registers are back at their reset value: the slots must
        // follow before the vCPU fetches its first instruction.
        self.machine.system().refresh();
        self.chips.restore(&self.fd)?;
        for vcpu in &self.vcpus {
            let fd = vcpu.fd.lock().unwrap_or_else(|e| e.into_inner());
            vcpu.reset.restore(&fd)?;
        }
        let mut shared = self.control.lock();
        let state = if was_running {
            RunState::Running
        } else {
            RunState::Prelaunch
        };
        self.control.set(&mut shared, state);
        Ok(())
    }

    /// Waits until the run state satisfies `done` or `timeout` passes;
    /// returns the state it last saw.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&RunState) -> bool) -> RunState {
        self.watch().wait_for(timeout, done)
    }

    /// A handle that reads and waits on the run state from another
    /// thread, for as long as it lives (after the VM is dropped it stays
    /// `paused`).
    pub fn watch(&self) -> RunStateWatch {
        RunStateWatch {
            control: Arc::clone(&self.control),
        }
    }
}

/// Reads and waits on a VM's run state from another thread: the
/// monitor's watcher, which tells QMP clients when the guest shuts down.
///
/// ```no_run
/// # fn demo(vm: &qom_vmm::Vm) {
/// use std::time::Duration;
/// let watch = vm.watch();
/// std::thread::spawn(move || {
///     let state = watch.wait_for(Duration::from_secs(1), |s| *s != qom_vmm::RunState::Running);
///     println!("{state}");
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct RunStateWatch {
    control: Arc<Control>,
}

impl RunStateWatch {
    /// The run state now.
    pub fn status(&self) -> RunState {
        self.control.lock().state.clone()
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
    /// machine from this VM.
    fn drop(&mut self) {
        {
            let mut shared = self.control.lock();
            shared.quit = true;
            self.control.set(&mut shared, RunState::Paused);
        }
        for vcpu in &mut self.vcpus {
            let Some(thread) = vcpu.thread.take() else {
                continue;
            };
            // Kicked out of KVM_RUN, the thread sees `quit` and ends; a
            // kick that lands before it enters KVM_RUN is lost, so repeat.
            while !thread.is_finished() {
                let _ = thread.kill(vcpu::kick_signal());
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = thread.join();
        }
        let listener: Arc<dyn MemoryListener> = self.slots.clone();
        self.machine.system().remove_listener(&listener);
        if let Some(board) = self.machine.cpu_board() {
            board.connect_irqs(Arc::new(|_, _| {}));
            board.connect_exit(Arc::new(|_| {}));
        }
    }
}

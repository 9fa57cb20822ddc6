//! One vCPU: its thread running `KVM_RUN`, and what each exit does.
//!
//! The exit path, for a port or MMIO access the kernel hands to user
//! space: `KVM_RUN` returns; the access goes to the machine's port-I/O or
//! system address space; the address space's current flat view finds the
//! range and its region; the region's owner is acquired (a strong
//! reference, or unassigned if the owner is finalizing); the owner's
//! `MmioOps` serves the access; the reference is dropped; the vCPU
//! re-enters the guest. No lock is shared between vCPUs on that path.

use crate::control::{Control, RunState};
use kvm_bindings::{kvm_run, KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_SYSTEM_EVENT_RESET};
use kvm_ioctls::{VcpuExit, VcpuFd};
use qom_devices::{AddressSpace, Machine};
use std::sync::{Arc, Mutex, OnceLock};
use vmm_sys_util::signal::{register_signal_handler, SIGRTMIN};

/// What the vCPU thread does after an exit.
enum Outcome {
    /// Re-enter the guest.
    Continue,
    /// Stop the machine in this state (the thread parks).
    Stop(RunState),
}

/// The signal that kicks a vCPU thread out of `KVM_RUN` (`KVM_RUN` returns
/// `EINTR` when a signal arrives while the guest runs).
pub(crate) fn kick_signal() -> i32 {
    SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Nothing to do: the signal's only purpose is to interrupt KVM_RUN.
}

/// Installs the kick handler once per process (the default action of a
/// real-time signal would end the process).
pub(crate) fn install_kick_handler() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            register_signal_handler(kick_signal(), on_kick)
                .map_err(|e| format!("cannot install the vCPU kick signal handler: {e}"))
        })
        .clone()
}

/// The two address spaces exits go to.
struct Spaces<'a> {
    system: &'a AddressSpace,
    io: &'a AddressSpace,
}

/// The vCPU thread's body: run while the machine is running, park
/// otherwise, until told to quit. `run_size` is the size of the vCPU's
/// `kvm_run` mapping.
pub(crate) fn thread_main(
    index: usize,
    vcpu: Arc<Mutex<VcpuFd>>,
    run_size: usize,
    machine: Arc<Machine>,
    control: Arc<Control>,
) {
    let Some(board) = machine.cpu_board() else {
        let why = format!("machine `{}` has no CPU board", machine.name());
        return control.stop(RunState::InternalError(why));
    };
    let spaces = Spaces {
        system: machine.system(),
        io: board.system_io(),
    };
    // Before parking, the exit just served is completed inside KVM
    // (`KVM_RUN` with `immediate_exit`): an `IN`'s data reaches the
    // register and RIP moves past the instruction, so that the state a
    // migration or `info registers` reads is consistent (KVM's API: the
    // I/O is complete only once user space re-enters `KVM_RUN`).
    let complete = || {
        let mut vcpu = vcpu.lock().unwrap_or_else(|e| e.into_inner());
        vcpu.set_kvm_immediate_exit(1);
        // EINTR is the expected answer; anything else shows at the next run.
        let _ = vcpu.run();
        vcpu.set_kvm_immediate_exit(0);
    };
    while control.wait_until_running(complete) {
        let outcome = {
            let mut vcpu = vcpu.lock().unwrap_or_else(|e| e.into_inner());
            step(index, &mut vcpu, run_size, &spaces)
        };
        if let Outcome::Stop(state) = outcome {
            tracing::info!(target: "kvm", vcpu = index, "{state}");
            control.stop(state);
        }
    }
}

/// One `KVM_RUN` and the exit it returns.
fn step(index: usize, vcpu: &mut VcpuFd, run_size: usize, spaces: &Spaces<'_>) -> Outcome {
    let exit = match vcpu.run() {
        Ok(exit) => exit,
        // A kick (or any signal): back to the control loop.
        Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
            return Outcome::Continue
        }
        Err(e) => {
            return Outcome::Stop(RunState::InternalError(format!(
                "vCPU {index}: KVM_RUN failed: {e}"
            )))
        }
    };
    let stop = match exit {
        // Handled below, once the exit's borrow of the vCPU has ended.
        VcpuExit::IoIn(..) | VcpuExit::IoOut(..) => None,
        VcpuExit::MmioRead(addr, data) => {
            let len = data.len().min(8);
            let value = spaces.system.read(addr, len as u32);
            data[..len].copy_from_slice(&value.to_le_bytes()[..len]);
            return Outcome::Continue;
        }
        VcpuExit::MmioWrite(addr, data) => {
            let mut bytes = [0u8; 8];
            let len = data.len().min(8);
            bytes[..len].copy_from_slice(&data[..len]);
            spaces
                .system
                .write(addr, len as u32, u64::from_le_bytes(bytes));
            // A write may have remapped memory (a PCI BAR): memory slots
            // must follow before the guest runs on. One atomic load when
            // nothing changed.
            spaces.system.refresh();
            return Outcome::Continue;
        }
        VcpuExit::IrqWindowOpen | VcpuExit::Intr => return Outcome::Continue,
        VcpuExit::Hlt => {
            Some("halted: the guest executed HLT and no in-kernel local APIC took it".to_string())
        }
        VcpuExit::Shutdown => Some("shut down: triple fault".to_string()),
        VcpuExit::SystemEvent(kind, _) if kind == KVM_SYSTEM_EVENT_RESET => {
            Some("shut down: the guest asked for a reset".to_string())
        }
        VcpuExit::SystemEvent(kind, _) => Some(format!("shut down: system event {kind}")),
        VcpuExit::FailEntry(reason, cpu) => {
            return Outcome::Stop(RunState::InternalError(format!(
                "vCPU {index}: VM entry failed (hardware reason {reason:#x}, host CPU {cpu})"
            )))
        }
        VcpuExit::InternalError => {
            return Outcome::Stop(RunState::InternalError(format!(
                "vCPU {index}: KVM internal error (instruction emulation failed?) at {}",
                where_is(vcpu)
            )))
        }
        other => {
            let name = format!("{other:?}");
            return Outcome::Stop(RunState::InternalError(format!(
                "vCPU {index}: unhandled exit {name} at {}",
                where_is(vcpu)
            )));
        }
    };
    if let Some(reason) = stop {
        return Outcome::Stop(RunState::Shutdown(format!(
            "vCPU {index} {reason} at {}",
            where_is(vcpu)
        )));
    }
    port_io(index, vcpu, run_size, spaces)
}

/// `CS:RIP` of the vCPU, for messages.
fn where_is(vcpu: &VcpuFd) -> String {
    match (vcpu.get_regs(), vcpu.get_sregs()) {
        (Ok(regs), Ok(sregs)) => format!(
            "{:04x}:{:x} (linear {:#x})",
            sregs.cs.selector,
            regs.rip,
            sregs.cs.base.wrapping_add(regs.rip)
        ),
        _ => "an unknown address".into(),
    }
}

/// Serves a port-I/O exit. `VcpuExit::IoIn`/`IoOut` give the data but not
/// the access size, which string I/O (`rep insb`, `rep outsw`) needs: `count`
/// accesses of `size` bytes to the same port. So the exit is read from the
/// `kvm_run` page here, as kvm-ioctls' own `VcpuFd::run` reads it.
fn port_io(index: usize, vcpu: &mut VcpuFd, run_size: usize, spaces: &Spaces<'_>) -> Outcome {
    let run: &mut kvm_run = vcpu.get_kvm_run();
    if run.exit_reason != KVM_EXIT_IO {
        return Outcome::Stop(RunState::InternalError(format!(
            "vCPU {index}: port I/O exit without KVM_EXIT_IO"
        )));
    }
    // SAFETY: `exit_reason` is KVM_EXIT_IO (checked above), for which the
    // kernel wrote the `io` member of the exit union; it is plain data
    // (integers), valid for any bit pattern.
    let pio = unsafe { run.__bindgen_anon_1.io };
    let size = usize::from(pio.size);
    if !matches!(size, 1 | 2 | 4) {
        return Outcome::Stop(RunState::InternalError(format!(
            "vCPU {index}: port I/O of {size} bytes at port {:#x}",
            pio.port
        )));
    }
    let offset = pio.data_offset as usize;
    let len = size * pio.count as usize;
    // The bound the slice below relies on: the data lies inside the
    // mapping, whatever the kernel wrote in `data_offset` and `count`.
    if offset.checked_add(len).is_none_or(|end| end > run_size) {
        return Outcome::Stop(RunState::InternalError(format!(
            "vCPU {index}: port I/O data at {offset:#x}+{len:#x} is outside the {run_size:#x}-byte kvm_run mapping"
        )));
    }
    let base = std::ptr::from_mut(run).cast::<u8>();
    // SAFETY: `base` is the start of the vCPU's `kvm_run` mapping, which
    // kvm-ioctls mapped read-write with `run_size` bytes
    // (`VmFd::run_size`, from KVM_GET_VCPU_MMAP_SIZE) and keeps mapped for
    // `vcpu`'s lifetime, which outlives this function. `offset + len <=
    // run_size` was checked just above, so the slice lies inside the
    // mapping; kvm-ioctls builds its `IoIn`/`IoOut` slices from the same
    // pointer and offset (its API hands out no other pointer to the
    // mapping, so the pointer comes from its `&mut kvm_run`, as its own
    // does; the mapping is one `mmap`). The bytes are plain `u8`s the
    // kernel wrote. The
    // slice is the only reference to them while it lives: `run` is not
    // used again and `vcpu` is borrowed mutably by this function, and the
    // kernel only touches the page again at the next `KVM_RUN`.
    let data = unsafe { std::slice::from_raw_parts_mut(base.add(offset), len) };
    let port = u64::from(pio.port);
    if u32::from(pio.direction) == KVM_EXIT_IO_IN {
        for item in data.chunks_exact_mut(size) {
            let value = spaces.io.read(port, size as u32);
            item.copy_from_slice(&value.to_le_bytes()[..size]);
        }
    } else {
        for item in data.chunks_exact(size) {
            let mut bytes = [0u8; 8];
            bytes[..size].copy_from_slice(item);
            spaces
                .io
                .write(port, size as u32, u64::from_le_bytes(bytes));
        }
        // Configuration writes through 0xcf8/0xcfc move BARs and PAM
        // windows: memory slots must follow before the guest runs on.
        spaces.system.refresh();
    }
    Outcome::Continue
}

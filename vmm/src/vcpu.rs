//! One vCPU: its thread running `KVM_RUN`, and what each exit does.

use crate::board::Board;
use crate::vm::{Control, RunState};
use kvm_bindings::{kvm_run, KVM_EXIT_IO, KVM_EXIT_IO_IN, KVM_SYSTEM_EVENT_RESET};
use kvm_ioctls::{VcpuExit, VcpuFd};
use qom_devices::AddressSpace;
use std::sync::{Arc, Mutex, OnceLock};
use vmm_sys_util::signal::{register_signal_handler, SIGRTMIN};

/// What the vCPU thread does after an exit.
pub(crate) enum Outcome {
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

/// The vCPU thread's body: run while the machine is running, park
/// otherwise, until told to quit.
pub(crate) fn thread_main(
    index: usize,
    vcpu: Arc<Mutex<VcpuFd>>,
    board: Arc<dyn Board>,
    control: Arc<Control>,
) {
    while control.wait_until_running() {
        let outcome = {
            let mut vcpu = vcpu.lock().unwrap_or_else(|e| e.into_inner());
            step(index, &mut vcpu, board.as_ref())
        };
        if let Outcome::Stop(state) = outcome {
            tracing::info!(target: "kvm", vcpu = index, "{state}");
            control.stop(state);
        }
    }
}

/// One `KVM_RUN` and the exit it returns.
fn step(index: usize, vcpu: &mut VcpuFd, board: &dyn Board) -> Outcome {
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
    let system = board.system_memory();
    let stop = match exit {
        // Handled below, once the exit's borrow of the vCPU has ended.
        VcpuExit::IoIn(..) | VcpuExit::IoOut(..) => None,
        VcpuExit::MmioRead(addr, data) => {
            let value = system.read(addr, data.len() as u32);
            let len = data.len().min(8);
            data[..len].copy_from_slice(&value.to_le_bytes()[..len]);
            return Outcome::Continue;
        }
        VcpuExit::MmioWrite(addr, data) => {
            let mut bytes = [0u8; 8];
            let len = data.len().min(8);
            bytes[..len].copy_from_slice(&data[..len]);
            system.write(addr, len as u32, u64::from_le_bytes(bytes));
            // A write may have remapped memory (a PCI BAR, a PAM
            // register): memory slots must follow before the guest runs.
            system.refresh();
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
    port_io(index, vcpu, board)
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
fn port_io(index: usize, vcpu: &mut VcpuFd, board: &dyn Board) -> Outcome {
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
    let len = size * pio.count as usize;
    let base = std::ptr::from_mut(run).cast::<u8>();
    // SAFETY: for a KVM_EXIT_IO the kernel puts `count` items of `size`
    // bytes at `data_offset` inside the vCPU's `kvm_run` mapping
    // (`KVM_PIO_PAGE_OFFSET`, within `KVM_GET_VCPU_MMAP_SIZE`), which
    // `vcpu` keeps mapped for its lifetime; kvm-ioctls builds its
    // `IoIn`/`IoOut` slice from the same pointer, offset and length. The
    // slice is the only reference to those bytes while it lives: `run` is
    // not used again and `vcpu` is borrowed mutably by this function.
    let data = unsafe { std::slice::from_raw_parts_mut(base.add(pio.data_offset as usize), len) };
    if !matches!(size, 1 | 2 | 4) {
        return Outcome::Stop(RunState::InternalError(format!(
            "vCPU {index}: port I/O of {size} bytes at port {:#x}",
            pio.port
        )));
    }
    let io: &AddressSpace = board.system_io();
    let port = u64::from(pio.port);
    if u32::from(pio.direction) == KVM_EXIT_IO_IN {
        for item in data.chunks_exact_mut(size) {
            let value = io.read(port, size as u32);
            item.copy_from_slice(&value.to_le_bytes()[..size]);
        }
    } else {
        for item in data.chunks_exact(size) {
            let mut bytes = [0u8; 8];
            bytes[..size].copy_from_slice(item);
            io.write(port, size as u32, u64::from_le_bytes(bytes));
        }
        // Configuration writes through 0xcf8/0xcfc move BARs and PAM
        // windows: memory slots must follow before the guest runs on.
        board.system_memory().refresh();
    }
    Outcome::Continue
}

//! The run state the monitor's `stop`/`cont`/`info status` act on, and
//! the rendezvous between it and the vCPU threads. The machine's virtual
//! clock runs exactly while the state is [`RunState::Running`].

use qom_devices::clock::VirtualClock;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The machine's run state, as HMP's `info status` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Created with `start_paused` and never resumed (`-S`).
    Prelaunch,
    /// Running guest code.
    Running,
    /// Stopped by [`Vm::pause`](crate::Vm::pause) (`stop`).
    Paused,
    /// Stopped after a completed migration: the destination runs the
    /// guest now (QEMU's `postmigrate`); `cont` runs it here again.
    PostMigrate,
    /// The guest asked to stop through an exit device, with this status.
    GuestExit(u32),
    /// The guest shut down (triple fault, HLT without an interrupt
    /// controller, a system event); says which and where.
    Shutdown(String),
    /// The accelerator could not go on (failed entry, unhandled exit).
    InternalError(String),
}

impl fmt::Display for RunState {
    /// `info status` wording (`hmp_info_status`: "VM status: running",
    /// "paused", "paused (prelaunch)", "paused (shutdown)",
    /// "paused (internal-error)"), with the reason after a colon where
    /// there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunState::Prelaunch => write!(f, "VM status: paused (prelaunch)"),
            RunState::Running => write!(f, "VM status: running"),
            RunState::Paused => write!(f, "VM status: paused"),
            RunState::PostMigrate => write!(f, "VM status: paused (postmigrate)"),
            RunState::GuestExit(status) => write!(
                f,
                "VM status: paused (shutdown): the guest exited with status {status}"
            ),
            RunState::Shutdown(why) => write!(f, "VM status: paused (shutdown): {why}"),
            RunState::InternalError(why) => {
                write!(f, "VM status: paused (internal-error): {why}")
            }
        }
    }
}

pub(crate) struct Shared {
    pub(crate) state: RunState,
    /// vCPU threads parked (out of `KVM_RUN`, holding no vCPU).
    pub(crate) parked: usize,
    pub(crate) quit: bool,
}

/// The run state and the vCPU threads' rendezvous.
pub(crate) struct Control {
    shared: Mutex<Shared>,
    pub(crate) changed: Condvar,
    clock: VirtualClock,
}

impl Control {
    pub(crate) fn new(state: RunState, clock: VirtualClock) -> Control {
        if state == RunState::Running {
            clock.start();
        }
        Control {
            shared: Mutex::new(Shared {
                state,
                parked: 0,
                quit: false,
            }),
            changed: Condvar::new(),
            clock,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves to `state` under the lock, starting or stopping the clock,
    /// and wakes every waiter.
    pub(crate) fn set(&self, shared: &mut Shared, state: RunState) {
        if state == RunState::Running {
            self.clock.start();
        } else {
            self.clock.stop();
        }
        shared.state = state;
        self.changed.notify_all();
    }

    /// Parks the calling vCPU thread until the machine runs; false when
    /// the thread must end.
    /// `before_park` runs first, outside the lock, when the thread is
    /// about to park.
    pub(crate) fn wait_until_running(&self, before_park: impl FnOnce()) -> bool {
        {
            let shared = self.lock();
            if shared.state == RunState::Running && !shared.quit {
                return true;
            }
        }
        before_park();
        let mut shared = self.lock();
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
            self.set(&mut shared, state);
        }
    }
}

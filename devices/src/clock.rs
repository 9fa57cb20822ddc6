//! The deterministic virtual clock: time advances only when the machine
//! (or a test) says so, like qtest's `clock_step`.

use qom_rt::prelude::*;

/// A device driven by the virtual clock (an interface devices list with
/// `#[qom(interfaces(Clocked))]`).
#[qom_rt::interface]
pub trait Clocked {
    /// Virtual time moved forward by `ns` nanoseconds.
    fn advance(&self, ns: u64);
}

/// Advances every clocked device under `root` (the tree below that path,
/// children first in tree order) by `ns` nanoseconds.
pub fn clock_step(root: &str, ns: u64) -> crate::Result<usize> {
    let top = qom_rt::resolve_path(root)?;
    let mut count = 0;
    visit(&top, &mut |object| {
        if let Some(clocked) = object.interface::<dyn Clocked>() {
            clocked.advance(ns);
            count += 1;
        }
    });
    Ok(count)
}

/// Calls `f` on `object` and every object below it in the composition
/// tree, parents before children.
pub fn visit(object: &Object, f: &mut dyn FnMut(&Object)) {
    f(object);
    for child in object.children() {
        if let Ok(child) = object.resolve(&child.name) {
            visit(&child, f);
        }
    }
}

/// A machine's virtual clock (QEMU's `QEMU_CLOCK_VIRTUAL`): it follows host
/// time while the machine's guest runs and stands still while it is
/// stopped; on a machine without a running guest only
/// [`VirtualClock::step`] moves it, as qtest's `clock_step`. Cheap to
/// clone: clones share the clock.
///
/// ```
/// use qom_devices::clock::VirtualClock;
///
/// let clock = VirtualClock::default();
/// clock.step(1_000);
/// assert_eq!(clock.now_ns(), 1_000);
/// clock.start();
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// clock.stop();
/// let stopped_at = clock.now_ns();
/// assert!(stopped_at >= 2_001_000);
/// assert_eq!(clock.now_ns(), stopped_at, "stands still while stopped");
/// ```
#[derive(Clone, Default)]
pub struct VirtualClock {
    state: std::sync::Arc<std::sync::Mutex<ClockState>>,
}

#[derive(Default)]
struct ClockState {
    /// Nanoseconds counted until `running_since`, or until now if stopped.
    counted_ns: u64,
    /// When the clock last started following host time.
    running_since: Option<std::time::Instant>,
}

impl ClockState {
    fn now_ns(&self) -> u64 {
        let running = self.running_since.map_or(0, |since| {
            u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
        });
        self.counted_ns.saturating_add(running)
    }
}

impl VirtualClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Nanoseconds of virtual time since the clock was made.
    pub fn now_ns(&self) -> u64 {
        self.lock().now_ns()
    }

    /// Follow host time from now on (the guest runs).
    pub fn start(&self) {
        let mut state = self.lock();
        if state.running_since.is_none() {
            state.running_since = Some(std::time::Instant::now());
        }
    }

    /// Stand still from now on (the guest is stopped).
    pub fn stop(&self) {
        let mut state = self.lock();
        state.counted_ns = state.now_ns();
        state.running_since = None;
    }

    /// Moves the clock `ns` nanoseconds forward at once.
    pub fn step(&self, ns: u64) {
        let mut state = self.lock();
        state.counted_ns = state.counted_ns.saturating_add(ns);
    }
}

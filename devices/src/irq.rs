//! Interrupt lines: a level signal from a device to whatever it is wired
//! to (another device's input, or a recorder in tests).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

type Sink = Arc<dyn Fn(bool) + Send + Sync>;

/// An output interrupt line. Devices hold one per output and call
/// [`IrqLine::set`] whenever the level may have changed; the sink sees
/// only changes.
#[derive(Default)]
pub struct IrqLine {
    level: AtomicBool,
    sink: Mutex<Option<Sink>>,
}

impl IrqLine {
    /// Wires the line to `sink`, which is called with every new level
    /// (and at once with the current one).
    pub fn connect(&self, sink: impl Fn(bool) + Send + Sync + 'static) {
        let sink: Sink = Arc::new(sink);
        sink(self.level());
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Unwires the line.
    pub fn disconnect(&self) {
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Drives the line to `level`.
    pub fn set(&self, level: bool) {
        // Most calls do not change the level: check before the swap.
        if self.level.load(Ordering::Acquire) == level
            || self.level.swap(level, Ordering::AcqRel) == level
        {
            return;
        }
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(sink) = sink {
            sink(level);
        }
    }

    /// The current level.
    pub fn level(&self) -> bool {
        self.level.load(Ordering::Acquire)
    }
}

/// An input that records the level it is driven to, for tests and the
/// monitor (a stand-in for an interrupt controller pin).
#[derive(Clone, Default)]
pub struct IrqRecorder {
    level: Arc<AtomicBool>,
    edges: Arc<std::sync::atomic::AtomicU64>,
}

impl IrqRecorder {
    /// Connects the recorder to `line`.
    pub fn attach(&self, line: &IrqLine) {
        let level = self.level.clone();
        let edges = self.edges.clone();
        line.connect(move |l| {
            if level.swap(l, Ordering::AcqRel) != l {
                edges.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// The level last seen.
    pub fn level(&self) -> bool {
        self.level.load(Ordering::Acquire)
    }

    /// How many level changes were seen.
    pub fn edges(&self) -> u64 {
        self.edges.load(Ordering::Relaxed)
    }
}

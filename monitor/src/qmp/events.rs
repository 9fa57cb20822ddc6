//! Events: what the machine tells every negotiated QMP client without
//! being asked, each declared as a typed struct.

use super::schema::{qapi_struct, QapiType, SchemaType};
use super::server::Outbox;
use super::wire;
use qom_vmm::{RunState, RunStateWatch};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

qapi_struct! {
    /// `DEVICE_DELETED`: the device has been unplugged, unrealized and
    /// removed from the composition tree (its memory may outlive this
    /// while an access in flight holds a reference).
    pub struct DeviceDeleted {
        /// The device's id; absent for a device plugged without one.
        device: Option<String>,
        /// Its path in the tree when it was deleted.
        path: String,
    }
}

qapi_struct! {
    /// `SHUTDOWN`: the guest or the host asked the machine to stop for
    /// good.
    pub struct Shutdown {
        /// Whether the guest asked (QEMU: `guest`).
        guest: bool,
        /// Why: `guest-shutdown`, `host-qmp-quit`, ... (QEMU's
        /// `ShutdownCause`).
        reason: String,
    }
}

qapi_struct! {
    /// `RESET`: the machine was reset.
    pub struct Reset {
        /// Whether the guest asked.
        guest: bool,
        /// Why: `host-qmp-system-reset`, `guest-reset`.
        reason: String,
    }
}

qapi_struct! {
    /// The data of an event that carries none (`STOP`, `RESUME`).
    pub struct NoData {}
}

/// An event's name and its data type's schema.
pub type EventDecl = (&'static str, fn() -> SchemaType);

/// Every event the server can send, with its data type, for the schema.
pub const EVENTS: &[EventDecl] = &[
    ("DEVICE_DELETED", DeviceDeleted::schema),
    ("SHUTDOWN", Shutdown::schema),
    ("RESET", Reset::schema),
    ("STOP", NoData::schema),
    ("RESUME", NoData::schema),
];

/// Where events go: one queue per negotiated client. Cloning shares the
/// subscribers. Sending never blocks: each client's queue is drained by
/// its own writer thread, so a client that stops reading cannot hold up
/// the command that raised the event.
#[derive(Clone, Default)]
pub struct Events {
    subscribers: Arc<Mutex<Vec<(u64, Outbox)>>>,
    next: Arc<AtomicU64>,
}

/// A client's subscription: events are queued for it until it is
/// dropped.
pub struct Subscription {
    events: Events,
    key: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.events.lock().retain(|(key, _)| *key != self.key);
    }
}

impl Events {
    /// A hub with no subscribers.
    pub fn new() -> Events {
        Events::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Outbox)>> {
        // A panicking sender cannot leave the list half-updated: push and
        // retain complete or do nothing.
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues every later event as a line on `queue`.
    pub(crate) fn subscribe(&self, queue: Outbox) -> Subscription {
        // Relaxed: the key only needs to be unique, not ordered.
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().push((key, queue));
        Subscription {
            events: self.clone(),
            key,
        }
    }

    /// How many clients receive events.
    pub fn subscribers(&self) -> usize {
        self.lock().len()
    }

    /// Sends event `name` with `data` (a struct of this module, or `None`
    /// for an event without data) to every subscriber, stamped now.
    pub fn emit(&self, name: &str, data: Option<&impl Serialize>) {
        let mut subscribers = self.lock();
        if subscribers.is_empty() {
            return;
        }
        let data = data.and_then(|d| serde_json::to_value(d).ok());
        let line = wire::event(name, data);
        // A client that has gone has dropped its receiver: forget it.
        subscribers.retain(|(_, queue)| queue.send(line.clone()));
    }

    /// Lines queued for subscribers and not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.lock().iter().map(|(_, queue)| queue.pending()).sum()
    }
}

/// Starts a thread that sends `SHUTDOWN` (`guest: true`,
/// `guest-shutdown`) and `STOP` when the guest itself stops the machine
/// (an exit device, a triple fault, a failed entry), until `watching`
/// is cleared. Operations the monitor starts (`stop`, `cont`,
/// `system_reset`, `quit`) send their own events where they run.
pub fn watch_guest(watch: RunStateWatch, events: Events, watching: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("qmp-guest-watch".into())
        .spawn(move || {
            let stopped = |s: &RunState| {
                !matches!(
                    s,
                    RunState::Prelaunch
                        | RunState::Running
                        | RunState::Paused
                        | RunState::PostMigrate
                )
            };
            let mut last = watch.status();
            // Acquire: pairs with the monitor's Release store on drop.
            while watching.load(Ordering::Acquire) {
                let now = watch.wait_for(Duration::from_millis(100), |s| *s != last);
                if stopped(&now) && !stopped(&last) {
                    if !matches!(now, RunState::InternalError(_)) {
                        let shutdown = Shutdown {
                            guest: true,
                            reason: "guest-shutdown".into(),
                        };
                        events.emit("SHUTDOWN", Some(&shutdown));
                    }
                    events.emit("STOP", None::<&NoData>);
                }
                last = now;
            }
        });
    // Without the thread the guest runs as before; only these events are
    // missing, and the machine must not fail to start for them.
    drop(spawned);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_subscribers_until_they_unsubscribe() {
        let events = Events::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let subscription = events.subscribe(Outbox::new(tx));
        let deleted = DeviceDeleted {
            device: Some("usb0".into()),
            path: "/machine/peripheral/usb0".into(),
        };
        events.emit("DEVICE_DELETED", Some(&deleted));
        let line: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(line["event"], "DEVICE_DELETED");
        assert_eq!(line["data"]["device"], "usb0");
        assert_eq!(line["data"]["path"], "/machine/peripheral/usb0");
        drop(subscription);
        assert_eq!(events.subscribers(), 0);
        events.emit("STOP", None::<&NoData>);
        assert!(rx.try_recv().is_err());
    }
}

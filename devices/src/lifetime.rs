//! Live-object accounting for `info lifetime`: devices and memory regions
//! count themselves in and out by type, so objects that outlive their place
//! in the tree (a region held by an in-flight access) still show up.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
/// Counts for one type.
pub struct TypeCounts {
    /// Initialised and not yet finalized.
    pub live: u64,
    /// Finalized so far.
    pub finalized: u64,
}

static COUNTS: Mutex<BTreeMap<&'static str, TypeCounts>> = Mutex::new(BTreeMap::new());

/// Finalizations in order, while recording is on (tests turn it on to
/// check the order the design document, `book/src/design.md`, fixes).
static EVENTS: Mutex<Option<Vec<&'static str>>> = Mutex::new(None);

/// Starts (or stops) recording the order of finalizations.
pub fn record_finalizations(on: bool) {
    *EVENTS.lock().unwrap_or_else(|e| e.into_inner()) = on.then(Vec::new);
}

/// Records that an object of `type_name` began finalizing (called from
/// the most-derived type's `finalize` hook, which runs first).
pub(crate) fn finalizing(type_name: &'static str) {
    if let Some(events) = EVENTS.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        events.push(type_name);
    }
}

/// The type names finalized since recording started, in order.
pub fn take_finalizations() -> Vec<&'static str> {
    EVENTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .map(std::mem::take)
        .unwrap_or_default()
}

fn with(f: impl FnOnce(&mut BTreeMap<&'static str, TypeCounts>)) {
    f(&mut COUNTS.lock().unwrap_or_else(|e| e.into_inner()));
}

/// An object of `type_name` was initialised.
pub(crate) fn born(type_name: &'static str) {
    with(|m| m.entry(type_name).or_default().live += 1);
}

/// An object of `type_name` finalized.
pub(crate) fn died(type_name: &'static str) {
    with(|m| {
        let c = m.entry(type_name).or_default();
        c.live = c.live.saturating_sub(1);
        c.finalized += 1;
    });
}

/// Counts by type name.
pub fn counts() -> BTreeMap<&'static str, TypeCounts> {
    COUNTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

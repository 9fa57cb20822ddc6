//! Object types the attacks use. Every object carries a [`Probe`]: a plain
//! field that knows whether it has been dropped and how many holders are
//! using it, so a test can tell live state from dead state (natively, by
//! value; under Miri, a read of freed memory is reported by Miri itself).

use qom_rt::prelude::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

const LIVE: u64 = 0x0b1e_c7a1_17e0_0001;
const DROPPED: u64 = 0xdead_dead_dead_dead;

/// Violations seen by any probe: a dropped probe read through a strong
/// reference, or a probe dropped while a holder was using it.
pub static VIOLATIONS: AtomicUsize = AtomicUsize::new(0);

/// Reads and resets [`VIOLATIONS`].
pub fn take_violations() -> usize {
    VIOLATIONS.swap(0, SeqCst)
}

/// A plain field that tells live state from dropped state.
pub struct Probe {
    state: AtomicU64,
    holders: AtomicUsize,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            state: AtomicU64::new(LIVE),
            holders: AtomicUsize::new(0),
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if self.holders.load(SeqCst) != 0 {
            VIOLATIONS.fetch_add(1, SeqCst);
        }
        self.state.store(DROPPED, SeqCst);
    }
}

impl Probe {
    /// Whether the field has not been dropped.
    pub fn is_live(&self) -> bool {
        self.state.load(SeqCst) == LIVE
    }

    /// Uses the field as a holder of a strong reference would: it must be
    /// live, and must not be dropped until `f` returns.
    pub fn use_while<R>(&self, f: impl FnOnce() -> R) -> R {
        self.holders.fetch_add(1, SeqCst);
        if !self.is_live() {
            VIOLATIONS.fetch_add(1, SeqCst);
        }
        let r = f();
        self.holders.fetch_sub(1, SeqCst);
        r
    }
}

/// A leaf with a probe.
#[derive(QomObject)]
#[qom(name = "adv-part")]
pub struct Part {
    parent: ParentField<Object>,
    pub probe: Probe,
}
impl ObjectImpl for Part {}

/// What `Mid`'s finalize hook does.
pub static MID_ESCAPES_G: Mutex<bool> = Mutex::new(false);
/// Where `Mid`'s finalize hook puts its embedded child.
pub static ESCAPED: Mutex<Option<Owned<Part>>> = Mutex::new(None);

/// The middle of a three-level container: embedded and owned children.
#[derive(QomObject)]
#[qom(name = "adv-mid")]
pub struct Mid {
    parent: ParentField<Object>,
    pub probe: Probe,
    #[child(embedded)]
    pub g: Part,
    #[child(owned)]
    pub o: Owned<Part>,
}

impl ObjectImpl for Mid {
    fn finalize(&self) {
        if *MID_ESCAPES_G.lock().unwrap() {
            // Allowed: a container's children are usable in its own hook.
            *ESCAPED.lock().unwrap() = Some(Owned::from(&self.g));
        }
    }
}

/// The top of the three-level container.
#[derive(QomObject)]
#[qom(name = "adv-top")]
pub struct Top {
    parent: ParentField<Object>,
    pub probe: Probe,
    #[child(embedded)]
    pub c: Mid,
    #[child(owned)]
    pub o: Owned<Part>,
}
impl ObjectImpl for Top {}

/// The issue's `Boxy`: one embedded and one owned child.
#[derive(QomObject)]
#[qom(name = "adv-boxy")]
pub struct Boxy {
    parent: ParentField<Object>,
    pub probe: Probe,
    #[child(embedded)]
    pub a: Part,
    #[child(owned)]
    pub o: Owned<Part>,
}
impl ObjectImpl for Boxy {}

/// Whether `object` is a live `Part`-like object whose probe is live
/// (checked through a strong reference the caller holds).
pub fn probe_of(object: &Object) -> Option<&Probe> {
    if let Some(p) = object.downcast::<Part>() {
        return Some(&p.probe);
    }
    if let Some(m) = object.downcast::<Mid>() {
        return Some(&m.probe);
    }
    if let Some(t) = object.downcast::<Top>() {
        return Some(&t.probe);
    }
    object.downcast::<Boxy>().map(|b| &b.probe)
}

/// Iterations for the races: as many as `ADVERSARIAL_ROUNDS` says (stress
/// runs), else a few under Miri and `native` otherwise.
pub fn rounds(native: usize) -> usize {
    let default = if cfg!(miri) { 4 } else { native };
    std::env::var("ADVERSARIAL_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

/// `Mid` without owned children, so that a `UTop` holding it is unshared
/// (nothing but its first reference can reach it) until something escapes.
#[derive(QomObject)]
#[qom(name = "adv-umid")]
pub struct UMid {
    parent: ParentField<Object>,
    pub probe: Probe,
    #[child(embedded)]
    pub g: Part,
}

impl ObjectImpl for UMid {
    fn finalize(&self) {
        if *MID_ESCAPES_G.lock().unwrap() {
            *ESCAPED.lock().unwrap() = Some(Owned::from(&self.g));
        }
    }
}

/// The top of an unshared three-level container.
#[derive(QomObject)]
#[qom(name = "adv-utop")]
pub struct UTop {
    parent: ParentField<Object>,
    pub probe: Probe,
    #[child(embedded)]
    pub c: UMid,
}
impl ObjectImpl for UTop {}

/// A container whose only child is owned (no embedded child): the shape
/// of the race the issue names (`X ⊃ C ⊃ o`), where a teardown that
/// looked only at `C`'s count missed the owned child's back-link.
#[derive(QomObject)]
#[qom(name = "adv-omid")]
pub struct OMid {
    parent: ParentField<Object>,
    pub probe: Probe,
    #[child(owned)]
    pub o: Owned<Part>,
}
impl ObjectImpl for OMid {}

/// The top of `X ⊃ C ⊃ o`.
#[derive(QomObject)]
#[qom(name = "adv-otop")]
pub struct OTop {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub c: OMid,
}
impl ObjectImpl for OTop {}

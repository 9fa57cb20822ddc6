//! Panics in user code during construction and finalize leak nothing and
//! leave nothing half-dropped: like `Arc`, which leaks nothing when a
//! destructor panics.

use crate::common::{live_allocations, serial, QuietPanics};
use qom_rt::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// Which `Fragile` init/finalize call panics (1-based; 0: none).
static PANIC_IN_INIT: AtomicUsize = AtomicUsize::new(0);
static PANIC_IN_FINALIZE: AtomicUsize = AtomicUsize::new(0);
static INITS: AtomicUsize = AtomicUsize::new(0);
static FINALIZES: AtomicUsize = AtomicUsize::new(0);
/// `PANIC_IN_FINALIZE` value for "every call".
const EVERY: usize = usize::MAX;
/// Whether the finalize panics after the first carry a [`Bomb`].
static BOMBS: AtomicBool = AtomicBool::new(false);
/// Which `Brittle::default()` call panics (1-based; 0: none).
static PANIC_IN_DEFAULT: AtomicUsize = AtomicUsize::new(0);
static DEFAULTS: AtomicUsize = AtomicUsize::new(0);
/// Drops of `Counted` fields, and finalizes of the rack.
static DROPS: AtomicUsize = AtomicUsize::new(0);
static RACK_FINALIZES: AtomicUsize = AtomicUsize::new(0);

/// A plain field whose drops are counted.
#[derive(Default)]
pub struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}

/// A plain field whose construction can panic.
pub struct Brittle(#[allow(dead_code)] Box<u64>);

impl Default for Brittle {
    fn default() -> Self {
        let n = DEFAULTS.fetch_add(1, SeqCst) + 1;
        if n == PANIC_IN_DEFAULT.load(SeqCst) {
            panic!("Brittle::default #{n}");
        }
        Brittle(Box::new(7))
    }
}

/// A child whose hooks can panic.
#[derive(QomObject)]
#[qom(name = "adv-fragile")]
pub struct Fragile {
    parent: ParentField<Object>,
    counted: Counted,
    brittle: Brittle,
}

impl ObjectImpl for Fragile {
    fn init(&self) {
        let n = INITS.fetch_add(1, SeqCst) + 1;
        if n == PANIC_IN_INIT.load(SeqCst) {
            panic!("Fragile::init #{n}");
        }
    }
    fn finalize(&self) {
        let n = FINALIZES.fetch_add(1, SeqCst) + 1;
        let trigger = PANIC_IN_FINALIZE.load(SeqCst);
        if n == trigger || trigger == EVERY {
            if n > 1 && BOMBS.load(SeqCst) {
                std::panic::panic_any(Bomb);
            }
            panic!("Fragile::finalize #{n}");
        }
    }
}

/// A panic payload whose own `Drop` panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("a panic payload's drop");
    }
}

/// Embedded and owned fragile children around plain fields.
#[derive(QomObject)]
#[qom(name = "adv-fragile-rack")]
pub struct FragileRack {
    parent: ParentField<Object>,
    first: Counted,
    #[child(embedded)]
    parts: [Fragile; 3],
    #[child(owned)]
    spare: Owned<Fragile>,
    last: Counted,
}

impl ObjectImpl for FragileRack {
    fn finalize(&self) {
        RACK_FINALIZES.fetch_add(1, SeqCst);
    }
}

/// What an attempt left behind.
#[derive(Debug, PartialEq)]
struct Aftermath {
    panicked: bool,
    leaked: isize,
    inits: usize,
    drops: usize,
    fragile_finalizes: usize,
    rack_finalizes: usize,
}

/// Runs `f` with panics silenced and counters reset; returns what it left.
fn attempt(f: impl FnOnce()) -> Aftermath {
    let _g = serial();
    // Once unmeasured, so lazily built tables do not count.
    drop(Owned::<FragileRack>::new());
    for counter in [&INITS, &FINALIZES, &DEFAULTS, &DROPS, &RACK_FINALIZES] {
        counter.store(0, SeqCst);
    }
    let quiet = QuietPanics::new();
    let before = live_allocations();
    let panicked = catch_unwind(AssertUnwindSafe(f)).is_err();
    let leaked = live_allocations() - before;
    drop(quiet);
    for trigger in [&PANIC_IN_INIT, &PANIC_IN_FINALIZE, &PANIC_IN_DEFAULT] {
        trigger.store(0, SeqCst);
    }
    Aftermath {
        panicked,
        leaked,
        // Read here, under the serial lock: the next attempt's warm-up
        // inits again.
        inits: INITS.load(SeqCst),
        drops: DROPS.load(SeqCst),
        fragile_finalizes: FINALIZES.load(SeqCst),
        rack_finalizes: RACK_FINALIZES.load(SeqCst),
    }
}

/// Everything built was dropped once and finalized once, nothing leaked.
const COMPLETE: Aftermath = Aftermath {
    panicked: true,
    leaked: 0,
    inits: 4,
    drops: 6,
    fragile_finalizes: 4,
    rack_finalizes: 1,
};

/// Attack: a plain field's `Default` panics while the container is being
/// built: every field built so far is dropped, no hook runs on a
/// half-built object, and every allocation made is freed.
#[test]
fn a_panic_while_building_drops_what_was_built() {
    for n in 1..=4 {
        let after = attempt(|| {
            PANIC_IN_DEFAULT.store(n, SeqCst);
            drop(Owned::<FragileRack>::new());
        });
        // Embedded children are built first, then the other fields in
        // declaration order: one `Counted` per fragile built, the failing
        // one's included (built before its `Brittle`), plus the rack's
        // `first` once the spare (the fourth `Brittle`) is being built.
        let expected = Aftermath {
            inits: 0,
            drops: n + usize::from(n == 4),
            fragile_finalizes: 0,
            rack_finalizes: 0,
            ..COMPLETE
        };
        assert_eq!(after, expected, "Default #{n}");
    }
}

/// Attack: the Nth `init` hook panics; the object is then fully built, so
/// it is finalized as if dropped: every field dropped once, every object
/// finalized once, the memory freed; the hooks after the one that
/// panicked do not run.
#[test]
fn a_panic_in_an_init_hook_finalizes_and_frees() {
    for n in 1..=4 {
        let after = attempt(|| {
            PANIC_IN_INIT.store(n, SeqCst);
            drop(Owned::<FragileRack>::new());
        });
        assert_eq!(
            after,
            Aftermath {
                inits: n,
                ..COMPLETE
            },
            "init #{n}"
        );
    }
}

/// Attack: the Nth `finalize` hook panics: the rest of the teardown still
/// runs (fields dropped, children finalized, memory freed) and the panic
/// reaches whoever dropped the last reference.
#[test]
fn a_panic_in_a_finalize_hook_still_drops_and_frees() {
    for n in 1..=4 {
        let after = attempt(|| {
            let rack = Owned::<FragileRack>::new();
            PANIC_IN_FINALIZE.store(n, SeqCst);
            drop(rack);
        });
        assert_eq!(after, COMPLETE, "finalize #{n}");
    }
}

/// Attack: every finalize hook panics, each while an earlier panic is
/// pending: one panic reaches the dropper, nothing leaks, every hook ran.
#[test]
fn panics_in_every_finalize_hook_are_one_panic_and_no_leak() {
    let after = attempt(|| {
        let rack = Owned::<FragileRack>::new();
        PANIC_IN_FINALIZE.store(EVERY, SeqCst);
        drop(rack);
    });
    assert_eq!(after, COMPLETE);
}

/// Attack: a finalize hook panics while the thread is already unwinding
/// (the object is dropped by another panic's unwinding): the process does
/// not abort, and nothing leaks.
#[test]
fn a_finalize_panic_during_unwinding_does_not_abort() {
    let after = attempt(|| {
        let rack = Owned::<FragileRack>::new();
        PANIC_IN_FINALIZE.store(EVERY, SeqCst);
        let _dropped_while_unwinding = rack;
        panic!("the first panic");
    });
    assert_eq!(after, COMPLETE);
}

/// Attack: after a first finalize panic, the later hooks panic with a
/// payload whose own `Drop` panics. Those payloads are dropped with their
/// panic contained, the teardown finishes, nothing leaks, and the first
/// panic is the one the dropper sees.
#[test]
fn a_panic_payload_whose_drop_panics_is_contained() {
    let mut first_resumed = false;
    let after = attempt(|| {
        let rack = Owned::<FragileRack>::new();
        PANIC_IN_FINALIZE.store(EVERY, SeqCst);
        BOMBS.store(true, SeqCst);
        let payload = catch_unwind(AssertUnwindSafe(|| drop(rack))).unwrap_err();
        BOMBS.store(false, SeqCst);
        // A flag, not a copy of the message: a copy would count as leaked.
        first_resumed = payload
            .downcast_ref::<String>()
            .is_some_and(|message| message == "Fragile::finalize #1");
        std::panic::resume_unwind(payload);
    });
    BOMBS.store(false, SeqCst);
    assert_eq!(after, COMPLETE);
    assert!(first_resumed, "the first panic is the one resumed");
}

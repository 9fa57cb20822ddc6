//! Races between a thread that reaches an object through something other
//! than a strong reference to it (a child's `container()`, a `..` walk, a
//! link, a path) and a thread that drops the object's last reference.
//! The reaching thread uses what it got; a probe in the object counts any
//! use of dropped state and any drop under a holder.
//!
//! Natively each race runs `rounds()` rounds (10,000 by default; the
//! stress figure in RELIABILITY.md comes from `ADVERSARIAL_ROUNDS=1000000
//! cargo test --release -p qom-rt --test adversarial races -- --nocapture`);
//! under Miri a few rounds, with Miri's preemption exploring interleavings.

use crate::fixtures::*;
use qom_rt::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// How a race went: how often the reaching thread got the object (and
/// used it) and how often it was refused.
#[derive(Debug, Default)]
struct Outcome {
    reached: usize,
    refused: usize,
}

/// Runs `rounds` rounds of: `build` makes an object and a handle the
/// reaching thread may use; the handle is published, then the object's
/// last reference is dropped while another thread loops on `reach` with
/// the published handle. `reach` returns `Some(true)` if it reached (and
/// used) the object, `Some(false)` if it was refused.
fn race<H, O>(
    name: &str,
    rounds: usize,
    build: impl Fn() -> (O, H),
    reach: impl Fn(&H) -> bool + Sync,
) -> Outcome
where
    H: Clone + Send + Sync,
{
    let slot: Mutex<Option<H>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let (reached, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let published = AtomicUsize::new(0);
    let seen = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(SeqCst) {
                let round = published.load(SeqCst);
                let Some(handle) = slot.lock().unwrap().clone() else {
                    std::hint::spin_loop();
                    continue;
                };
                seen.store(round, SeqCst);
                let counter = if reach(&handle) { &reached } else { &refused };
                counter.fetch_add(1, SeqCst);
            }
        });
        for round in 1..=rounds {
            let (object, handle) = build();
            *slot.lock().unwrap() = Some(handle);
            published.store(round, SeqCst);
            // Give the other thread the handle before the drop, most
            // rounds: an overlap is what the race needs.
            let mut spins = 0;
            while seen.load(SeqCst) < round && spins < 2_000 {
                std::hint::spin_loop();
                spins += 1;
                if cfg!(miri) {
                    std::thread::yield_now();
                }
            }
            drop(object);
            // The handle may still be in use; it goes with the next round.
            let handle = slot.lock().unwrap().take();
            drop(handle);
        }
        stop.store(true, SeqCst);
    });
    let outcome = Outcome {
        reached: reached.load(SeqCst),
        refused: refused.load(SeqCst),
    };
    if !cfg!(miri) {
        println!("{name}: {rounds} rounds, {outcome:?}");
    }
    outcome
}

/// Checks a race's result: no probe saw dropped state or was dropped
/// under a holder; natively, the race happened both ways.
fn check(outcome: Outcome) {
    assert_eq!(take_violations(), 0, "state used after it was dropped");
    if !cfg!(miri) {
        assert!(outcome.reached > 0, "the object was never reached: no race");
        assert!(
            outcome.refused > 0,
            "never refused: the drop never overlapped"
        );
    }
}

/// Attack (class 4): `X ⊃ C (embedded) ⊃ o (owned)`; one thread loops on
/// `o.container::<C>()` while the other drops `X`. `C`'s teardown must not
/// take a fast path that ignores the owned child's back-link.
#[test]
fn an_owned_childs_container_racing_the_drop_two_levels_up() {
    let _g = crate::common::serial();
    let outcome = race(
        "owned child's container() vs drop of the top",
        rounds(10_000),
        || {
            let top = Owned::<OTop>::new();
            let o = top.c.o.clone();
            (top, o)
        },
        |o| match o.container::<OMid>() {
            Some(mid) => mid.probe.use_while(|| mid.o.probe.is_live()),
            None => false,
        },
    );
    check(outcome);
}

/// Attack (class 5): a dynamic child walks `..` to its parent while the
/// parent's last reference is dropped (after `add_child`).
#[test]
fn dotdot_racing_the_parents_last_drop() {
    let _g = crate::common::serial();
    let outcome = race(
        "`..` vs drop of the parent",
        rounds(10_000),
        || {
            let parent = Owned::<Part>::new();
            let kid = Owned::<Part>::new();
            parent.add_child("kid", kid.clone()).unwrap();
            (parent, kid)
        },
        |kid| match kid.resolve("..") {
            Ok(parent) => probe_of(&parent).is_some_and(|p| p.use_while(|| p.is_live())),
            Err(_) => false,
        },
    );
    check(outcome);
}

/// The seed's scenario: an embedded child (a memory region) asks for its
/// container (the device) for each access while the device is dropped.
#[test]
fn an_embedded_childs_container_racing_the_containers_drop() {
    let _g = crate::common::serial();
    let outcome = race(
        "embedded child's container() vs drop",
        rounds(10_000),
        || {
            let top = Owned::<UTop>::new();
            let g = Owned::from(&top.c.g);
            (top, g)
        },
        |g| match g.container::<UMid>() {
            Some(mid) => mid.probe.use_while(|| mid.g.probe.is_live()),
            None => false,
        },
    );
    check(outcome);
}

/// A link to an embedded child, followed while the child's container is
/// dropped.
#[test]
fn a_link_to_an_embedded_child_racing_the_containers_drop() {
    let _g = crate::common::serial();
    let outcome = race(
        "link to an embedded child vs drop",
        rounds(10_000),
        || {
            let top = Owned::<Top>::new();
            let link = std::sync::Arc::new(qom_rt::Link::<Part>::new());
            link.set(&top.c.g);
            (top, link)
        },
        |link| match link.get() {
            Some(g) => g.probe.use_while(|| g.probe.is_live()),
            None => false,
        },
    );
    check(outcome);
}

/// A path walk (`canonical_path`, then resolution by that path) from a
/// thread that holds only a grandchild, while the top is unparented and
/// dropped.
#[test]
fn path_walks_racing_unparent_and_drop() {
    let _g = crate::common::serial();
    let parent = qom_rt::container("/adversarial-races").unwrap();
    let outcome = race(
        "path walks vs unparent and drop",
        rounds(5_000),
        || {
            let top = Owned::<Top>::new();
            parent.add_child("top", top.clone()).unwrap();
            let g = Owned::from(&top.c.g);
            (Unplug(top), g)
        },
        |g| {
            let Some(path) = g.canonical_path() else {
                return false;
            };
            match qom_rt::resolve_path(&path).map(|o| o.downcast_owned::<Part>()) {
                Ok(Ok(found)) => found.probe.use_while(|| found.resolve("../o").is_ok()),
                _ => false,
            }
        },
    );
    check(outcome);
}

/// Unparents its object, then drops the reference.
struct Unplug(Owned<Top>);

impl Drop for Unplug {
    fn drop(&mut self) {
        self.0.unparent();
    }
}

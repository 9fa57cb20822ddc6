//! Everything a hook can do, from every hook: walks, paths, container
//! lookups, property reads and writes, links, casts, references taken and
//! escapes, from the `init` and `finalize` of a container, its parent
//! type, its embedded and owned children, two levels deep, placed in the
//! tree and not. Nothing may reach dropped or unbuilt state (Miri checks
//! the memory; the probes check the values), finalize runs once per
//! object, and nothing leaks once the escapes are dropped.

use crate::common::{live_allocations, log, serial, take_log, QuietPanics};
use crate::fixtures::{probe_of, take_violations, Probe};
use qom_rt::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

/// References hooks let escape; dropped by the test.
static SINK: Mutex<Vec<Owned<Object>>> = Mutex::new(Vec::new());

/// Does everything to `this` from hook `hook`, logging what was refused.
fn poke<T: ObjectType>(this: &T, hook: &str) {
    let me = this.as_object();
    log(format!("{hook}: {}", me.type_name()));
    if let Some(probe) = probe_of_any(me) {
        assert!(probe.is_live(), "{hook}: own state dropped");
    }
    let _ = me.canonical_path();
    for path in [
        "..",
        "../..",
        "kid",
        "own",
        "base_kid",
        "../kid",
        "../own",
        "../../inner",
    ] {
        if let Ok(found) = me.resolve(path) {
            use_object(&found, hook);
        }
    }
    for child in me.children() {
        if let Ok(found) = me.resolve(&child.name) {
            use_object(&found, hook);
        }
    }
    let up = me.container::<Object>();
    log(format!("{hook}: container {}", up.is_some()));
    if let Some(up) = &up {
        use_object(up, hook);
    }
    let _ = qom_rt::qom_tree("/adversarial-hooks");
    let _ = qom_rt::resolve_path("adversarial-hooks/top/inner/kid");
    if let Some(b) = me.downcast::<PokerBox>() {
        let _ = b.get_property("n");
        let _ = b.set_property("n", "9");
        b.peer.set(&b.kid);
        if let Some(peer) = b.peer.get() {
            use_object(peer.as_object(), hook);
        }
        let _ = b.get_property("peer");
        let _ = b.set_property("peer", "/adversarial-hooks/top/inner/own");
    }
    // A new reference: fine while live, a resurrection panic once not.
    let taken = catch_unwind(AssertUnwindSafe(|| Owned::from(me)));
    log(format!("{hook}: reference {}", taken.is_ok()));
    drop(taken);
    // Escapes of the children, at every level.
    for child in me.children() {
        if let Ok(found) = me.resolve(&child.name) {
            SINK.lock().unwrap().push(found);
        }
    }
}

fn probe_of_any(object: &Object) -> Option<&Probe> {
    if let Some(p) = object.downcast::<Poker>() {
        return Some(&p.probe);
    }
    if let Some(b) = object.downcast::<PokerBase>() {
        return Some(&b.probe);
    }
    probe_of(object)
}

/// Uses an object reached from a hook: its state must be live.
fn use_object(object: &Object, hook: &str) {
    if let Some(probe) = probe_of_any(object) {
        probe.use_while(|| assert!(probe.is_live(), "{hook}: reached dropped state"));
    }
    let _ = object.canonical_path();
    let _ = object.children();
}

/// A leaf that pokes from both hooks.
#[derive(QomObject)]
#[qom(name = "adv-poker")]
pub struct Poker {
    parent: ParentField<Object>,
    probe: Probe,
}

impl ObjectImpl for Poker {
    fn init(&self) {
        poke(self, "leaf init");
    }
    fn finalize(&self) {
        poke(self, "leaf finalize");
    }
}

/// A parent type with its own embedded child and hooks.
#[derive(QomObject)]
#[qom(name = "adv-poker-base", abstract)]
pub struct PokerBase {
    parent: ParentField<Object>,
    probe: Probe,
    #[child(embedded)]
    base_kid: Poker,
}

impl ObjectImpl for PokerBase {
    fn init(&self) {
        poke(self, "base init");
    }
    fn finalize(&self) {
        poke(self, "base finalize");
    }
}

/// Embedded, owned and linked children, a property, hooks.
#[derive(QomObject)]
#[qom(name = "adv-poker-box")]
pub struct PokerBox {
    parent: ParentField<PokerBase>,
    #[child(embedded)]
    kid: Poker,
    #[child(owned)]
    own: Owned<Poker>,
    #[property(default = 1)]
    n: Prop<u32>,
    #[property]
    peer: Link<Poker>,
}

impl ObjectImpl for PokerBox {
    fn init(&self) {
        poke(self, "box init");
    }
    fn finalize(&self) {
        poke(self, "box finalize");
    }
}

/// Two levels: a box embedded in a top.
#[derive(QomObject)]
#[qom(name = "adv-poker-top")]
pub struct PokerTop {
    parent: ParentField<Object>,
    #[child(embedded)]
    inner: PokerBox,
    #[child(owned)]
    spare: Owned<PokerBox>,
}

impl ObjectImpl for PokerTop {
    fn init(&self) {
        poke(self, "top init");
    }
    fn finalize(&self) {
        poke(self, "top finalize");
    }
}

fn run(placed: bool) -> Vec<String> {
    let top = Owned::<PokerTop>::new();
    if placed {
        qom_rt::container("/adversarial-hooks")
            .unwrap()
            .add_child("top", top.clone())
            .unwrap();
        top.unparent();
    }
    drop(top);
    // Dropping an escape runs finalize hooks, which may escape more.
    loop {
        let escaped = std::mem::take(&mut *SINK.lock().unwrap());
        if escaped.is_empty() {
            break;
        }
        drop(escaped);
    }
    take_log()
}

/// Log lines each run must show, and how many times.
const EXPECTED: [(&str, usize); 9] = [
    // Each object's hooks ran once: 2 boxes with 3 pokers each, plus the
    // top; the base level runs for each box.
    ("leaf init: adv-poker", 6),
    ("leaf finalize: adv-poker", 6),
    ("box finalize: adv-poker-box", 2),
    ("base finalize: adv-poker-base", 2),
    ("top finalize: adv-poker-top", 1),
    // Every init saw a live container; a finalize hook cannot take a
    // reference on its own object.
    ("leaf init: container true", 6),
    ("top init: reference true", 1),
    ("top finalize: reference false", 1),
    ("leaf finalize: reference true", 0),
];

#[test]
fn every_hook_can_do_everything_and_nothing_reaches_dead_state() {
    let _g = serial();
    // Resurrection attempts panic (and are caught): keep them quiet.
    let quiet = QuietPanics::new();
    run(true);
    let before = live_allocations();
    let mut runs = [false, true].map(|placed| (placed, [0; EXPECTED.len()], 0));
    for (placed, counts, leaked) in &mut runs {
        let log = run(*placed);
        for (count, (line, _)) in counts.iter_mut().zip(EXPECTED) {
            *count = log.iter().filter(|l| *l == line).count();
        }
        drop(log);
        *leaked = live_allocations() - before;
    }
    drop(quiet);
    for (placed, counts, leaked) in runs {
        for (count, (line, expected)) in counts.into_iter().zip(EXPECTED) {
            assert_eq!(count, expected, "`{line}`, placed: {placed}");
        }
        assert_eq!(leaked, 0, "placed: {placed}");
    }
    assert_eq!(take_violations(), 0);
}

//! A container nothing escaped from is torn down without checking or
//! parking each embedded child's count, and its last `Owned` finalizes it
//! without a read-modify-write. These tests do from the children's own
//! finalize hooks what that shortcut must still handle: resurrect the
//! child, let a grandchild escape, give the child tree entries, read its
//! state. Each is checked for finalize-once and for leaks.

mod common;
use common::*;
use qom_rt::prelude::*;
use qom_rt::LifeState;
use std::sync::Mutex;

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// What a `Part`'s finalize hook does.
#[derive(Clone, Copy, PartialEq, Default)]
enum Act {
    #[default]
    Nothing,
    Resurrect,
    LetGrandchildEscape,
    AddDynamicChild,
    ReportState,
}

static ACT: Mutex<Act> = Mutex::new(Act::Nothing);
/// Where `LetGrandchildEscape` puts the grandchild.
static ESCAPED: Mutex<Option<Owned<Leaf>>> = Mutex::new(None);

#[derive(QomObject)]
#[qom(name = "teardown-part")]
struct Part {
    parent: ParentField<Object>,
    #[child(embedded)]
    inner: Leaf,
}

impl ObjectImpl for Part {
    fn finalize(&self) {
        log("finalize part");
        match *ACT.lock().unwrap() {
            Act::Nothing => {}
            Act::Resurrect => {
                let attempt =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Owned::from(self)));
                let message = attempt.err().and_then(|e| e.downcast::<String>().ok());
                log(format!(
                    "resurrection: {}",
                    message.map(|m| *m).unwrap_or_default()
                ));
            }
            Act::LetGrandchildEscape => {
                // Allowed: the part's own children are usable in its hook.
                *ESCAPED.lock().unwrap() = Some(Owned::from(&self.inner));
            }
            Act::AddDynamicChild => {
                let extra = Owned::<Leaf>::new();
                extra.tag.set("extra".into());
                self.add_child("extra", extra).unwrap();
            }
            Act::ReportState => {
                log(format!("state {:?}", self.header().state()));
                log(format!("refs {}", self.header().ref_count()));
            }
        }
    }
}

#[derive(QomObject)]
#[qom(name = "teardown-rack")]
struct Rack {
    parent: ParentField<Object>,
    #[child(embedded)]
    parts: [Part; 2],
}
impl ObjectImpl for Rack {}

/// Creates a rack, drops it with `act` in every part's hook, and hands
/// the log to `check`; then checks that nothing is left allocated.
fn drop_rack_with(act: Act, check: impl FnOnce(&[String])) {
    let _g = serial();
    *ACT.lock().unwrap() = act;
    let quiet = QuietPanics::new();
    // Once unmeasured: the tree's side tables keep the capacity they grow.
    drop(Owned::<Rack>::new());
    drop(ESCAPED.lock().unwrap().take());
    let before = live_allocations();
    drop(Owned::<Rack>::new());
    drop(ESCAPED.lock().unwrap().take());
    drop(quiet);
    *ACT.lock().unwrap() = Act::Nothing;
    check(&take_log());
    assert_eq!(live_allocations(), before, "nothing leaked");
}

#[test]
fn an_unshared_container_finalizes_each_child_once() {
    drop_rack_with(Act::Nothing, |log| {
        let expected = ["finalize part", "finalize leaf "].repeat(2);
        assert_eq!(log[2..], expected, "after two `init leaf`");
    });
}

#[test]
fn a_child_resurrecting_itself_in_an_unshared_teardown_panics() {
    drop_rack_with(Act::Resurrect, |log| {
        let attempts: Vec<_> = log
            .iter()
            .filter(|e| e.starts_with("resurrection"))
            .collect();
        assert_eq!(attempts.len(), 2, "{log:?}");
        for attempt in attempts {
            assert!(
                attempt.contains("reference taken on `teardown-part`")
                    && attempt.contains("finalizing"),
                "{attempt}"
            );
        }
        assert_eq!(log.iter().filter(|e| *e == "finalize part").count(), 2);
    });
}

#[test]
fn a_grandchild_escaping_from_a_childs_hook_keeps_the_storage() {
    let _g = serial();
    drop(Owned::<Board>::new());
    *ACT.lock().unwrap() = Act::LetGrandchildEscape;
    let before = live_allocations();
    drop(Owned::<Rack>::new());
    *ACT.lock().unwrap() = Act::Nothing;
    // The last part to finalize put its `inner` in `ESCAPED`; the other
    // part's `inner` was replaced there and finalized at once.
    let escaped = ESCAPED.lock().unwrap().take().expect("escaped");
    assert_eq!(escaped.header().state(), LifeState::Live);
    assert_eq!(escaped.type_name(), "test-leaf");
    let finalized = |log: Vec<String>| {
        log.iter()
            .filter(|e| e.starts_with("finalize leaf"))
            .count()
    };
    assert_eq!(finalized(take_log()), 1, "the replaced one");
    assert_eq!(live_allocations() - before, 1, "the rack's storage is held");
    drop(escaped);
    assert_eq!(
        finalized(take_log()),
        1,
        "the escaped one, at its last reference"
    );
    assert_eq!(live_allocations(), before, "freed with the last leaf");
}

#[test]
fn tree_entries_a_child_gives_itself_while_torn_down_are_released() {
    drop_rack_with(Act::AddDynamicChild, |log| {
        let extras = log.iter().filter(|e| *e == "finalize leaf extra").count();
        assert_eq!(extras, 2, "{log:?}");
    });
}

#[test]
fn a_child_torn_down_without_parking_reports_finalizing() {
    drop_rack_with(Act::ReportState, |log| {
        let states = log.iter().filter(|e| *e == "state Finalizing").count();
        assert_eq!(states, 2, "{log:?}");
        assert_eq!(log.iter().filter(|e| *e == "refs 0").count(), 2, "{log:?}");
    });
}

#[test]
fn a_shared_container_still_finalizes_through_the_counts() {
    let _g = serial();
    drop(Owned::<Board>::new());
    let before = live_allocations();
    let rack = Owned::<Rack>::new();
    let part = Owned::from(&rack.parts[1]);
    let rack_again = part.container::<Rack>().expect("live");
    drop(rack);
    assert_eq!(rack_again.header().state(), LifeState::Live);
    drop(rack_again);
    assert_eq!(
        part.header().state(),
        LifeState::Live,
        "the part outlives its rack"
    );
    drop(part);
    let log = take_log();
    assert_eq!(log.iter().filter(|e| *e == "finalize part").count(), 2);
    drop(log);
    assert_eq!(live_allocations(), before);
}

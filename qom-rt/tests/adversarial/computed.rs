//! Computed properties whose getters attack the object they compute for:
//! they walk the tree, read every property (their own included, through
//! `qom-list`), set one, take their object out of the tree and drop every
//! other reference to it, so that the caller's is the last. The getter
//! runs on a borrowed object: nothing it does may reach dropped state, and
//! the object is finalized once, after the caller lets go.

use crate::common::serial;
use crate::fixtures::{take_violations, Probe};
use qom_rt::prelude::*;
use qom_rt::{ComputedProperties, ComputedProperty, Error};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

/// Extra references the attack drops from inside its getter.
static ESCAPES: Mutex<Vec<Owned<Object>>> = Mutex::new(Vec::new());
/// Finalize hooks run for [`Gauge`].
static FINALIZED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The getter is running on this thread (`qom-list` from inside it
    /// would compute it again).
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

#[derive(QomObject)]
#[qom(name = "adv-gauge", interfaces(ComputedProperties))]
struct Gauge {
    parent: ParentField<Object>,
    probe: Probe,
    #[property(default = 3)]
    level: Prop<u32>,
}

impl ObjectImpl for Gauge {
    fn finalize(&self) {
        assert!(self.probe.is_live(), "finalize after drop");
        FINALIZED.fetch_add(1, SeqCst);
    }
}

impl ComputedProperties for Gauge {
    fn computed_properties(&self) -> Vec<ComputedProperty> {
        let value = self.probe.use_while(|| {
            if !INSIDE.replace(true) {
                self.attack();
                INSIDE.set(false);
            }
            // Read after the attack: the object must still be whole.
            self.level.get() * 2
        });
        vec![ComputedProperty::new("double", "twice `level`", value)]
    }
}

impl Gauge {
    fn attack(&self) {
        let _ = qom_rt::qom_tree("/adv-computed");
        let _ = self.canonical_path();
        if let Ok(up) = self.resolve("..") {
            let _ = up.children();
        }
        // Every property, the one being computed included.
        let _ = qom_rt::list_object(self);
        let _ = self.get_property("double");
        let _ = self.set_property("double", "1");
        self.set_property("level", "5").unwrap();
        // Out of the tree, and every reference but the caller's dropped.
        self.unparent();
        ESCAPES.lock().unwrap().clear();
        assert!(self.probe.is_live(), "the caller's reference keeps it");
    }
}

/// Plants a gauge at `/adv-computed/NAME` with one escaped reference.
fn plant(name: &str) {
    let g = Owned::<Gauge>::new();
    ESCAPES.lock().unwrap().push(Owned::from(g.as_object()));
    qom_rt::container("/adv-computed")
        .unwrap()
        .add_child(name, g)
        .unwrap();
}

/// Attack: `qom-list` by path, whose getter unparents the object and
/// drops the escaped reference; `qom_list`'s own reference is the last.
#[test]
fn a_getter_that_drops_every_other_reference_finishes_on_live_state() {
    let _serial = serial();
    FINALIZED.store(0, SeqCst);
    plant("g1");
    let list = qom_rt::qom_list("/adv-computed/g1").unwrap();
    let double = list.iter().find(|e| e.name == "double").unwrap();
    assert_eq!(
        double.value.as_deref(),
        Some("10"),
        "computed after `level` became 5"
    );
    assert_eq!(double.kind, qom_rt::ListingKind::Computed);
    assert_eq!(
        FINALIZED.load(SeqCst),
        1,
        "finalized once the listing let go"
    );
    assert!(qom_rt::resolve_path("/adv-computed/g1").is_err());
    assert_eq!(take_violations(), 0);
}

/// Attack: `get_property` on an object the caller holds, the getter
/// dropping the tree's and the escaped references.
#[test]
fn a_getter_that_unparents_its_object_reads_it_whole() {
    let _serial = serial();
    FINALIZED.store(0, SeqCst);
    plant("g2");
    let g = qom_rt::resolve_path("/adv-computed/g2").unwrap();
    let gauge = g.downcast::<Gauge>().unwrap();
    assert_eq!(gauge.get_property("double").unwrap(), "10");
    assert_eq!(g.canonical_path(), None, "the getter unparented it");
    assert_eq!(FINALIZED.load(SeqCst), 0, "the test still holds it");
    let err = gauge.set_property("double", "4").unwrap_err();
    assert_eq!(
        err,
        Error::ReadOnlyProperty {
            object: "<detached adv-gauge>".into(),
            property: "double".into()
        }
    );
    drop(g);
    assert_eq!(FINALIZED.load(SeqCst), 1);
    assert_eq!(take_violations(), 0);
}

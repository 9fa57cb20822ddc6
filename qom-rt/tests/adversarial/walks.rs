//! Walks (`..`, named children, `container()`, `canonical_path`) from
//! objects that outlived their container, from objects under
//! construction, and from children that escaped a finalize hook.

use crate::common::{log, serial, take_log};
use crate::fixtures::*;
use qom_rt::prelude::*;
use qom_rt::LifeState;

/// Attack (class 1): an embedded child outlives its container, then walks
/// `..` into it and on to the container's freed owned child.
#[test]
fn dotdot_from_a_child_that_outlived_its_container_is_an_error() {
    let x = Owned::<Boxy>::new();
    let a: Owned<Part> = Owned::from(&x.a);
    assert!(a.resolve("../o").is_ok(), "while the container lives");
    drop(x);
    for path in ["..", "../o", "../a", "../..", "../a/../o"] {
        let found = a.resolve(path);
        assert!(
            found.is_err(),
            "`{path}` reached {:?}",
            found.map(|o| o.type_name())
        );
    }
    assert!(a.container::<Boxy>().is_none());
    assert_eq!(a.canonical_path(), None);
    assert!(a.probe.is_live(), "the child itself is still usable");
    assert_eq!(take_violations(), 0);
}

/// Attack (class 1, owned side): an owned child outlives its owner and
/// walks back up.
#[test]
fn an_owned_child_that_outlived_its_owner_cannot_reach_it() {
    let x = Owned::<Boxy>::new();
    let o = x.o.clone();
    assert!(Owned::ptr_eq(&o.container::<Boxy>().unwrap(), &x));
    drop(x);
    assert!(o.container::<Boxy>().is_none());
    assert!(o.resolve("..").is_err());
    assert!(o.resolve("../a").is_err());
    assert_eq!(o.canonical_path(), None);
    assert_eq!(o.header().state(), LifeState::Live);
}

/// Attack (class 1, two levels): a grandchild embedded two levels down
/// outlives both containers.
#[test]
fn a_grandchild_that_outlived_two_containers_reaches_neither() {
    let top = Owned::<Top>::new();
    let g = Owned::from(&top.c.g);
    let o = top.c.o.clone();
    assert!(g.resolve("../../o").is_ok());
    drop(top);
    for path in ["..", "../..", "../o", "../../o", "../../c/g"] {
        assert!(g.resolve(path).is_err(), "{path}");
        assert!(o.resolve(path).is_err(), "{path}");
    }
    assert!(g.container::<Mid>().is_none());
    assert!(o.container::<Mid>().is_none());
}

/// Attack (class 3): a container's finalize hook lets its embedded child
/// escape; the child, from the outside, asks for its finalized container.
#[test]
fn a_child_escaped_from_a_finalize_hook_cannot_reach_its_container() {
    let _g = serial();
    *MID_ESCAPES_G.lock().unwrap() = true;
    drop(Owned::<Top>::new());
    *MID_ESCAPES_G.lock().unwrap() = false;
    let g = ESCAPED.lock().unwrap().take().expect("escaped");
    assert!(g.container::<Mid>().is_none(), "the container is finalized");
    assert!(g.resolve("..").is_err());
    assert!(g.resolve("../o").is_err());
    assert_eq!(g.canonical_path(), None);
    assert!(g.probe.is_live());
    assert_eq!(take_violations(), 0);
}

/// Attack (class 3, unshared): the same escape from a container nothing
/// had escaped from before, whose last reference finalizes it without a
/// read-modify-write and whose teardown skips the children's counts.
#[test]
fn an_escape_during_an_unshared_teardown_cannot_reach_the_container() {
    let _g = serial();
    *MID_ESCAPES_G.lock().unwrap() = true;
    drop(Owned::<UTop>::new());
    *MID_ESCAPES_G.lock().unwrap() = false;
    let g = ESCAPED.lock().unwrap().take().expect("escaped");
    assert!(
        g.container::<UMid>().is_none(),
        "the container is finalized"
    );
    assert!(g.resolve("..").is_err());
    assert_eq!(g.canonical_path(), None);
    assert_eq!(g.header().state(), LifeState::Live);
    assert!(g.probe.is_live());
    assert_eq!(take_violations(), 0);
}

/// An embedded child whose `init` walks the tree around it.
#[derive(QomObject)]
#[qom(name = "adv-early")]
pub struct Early {
    parent: ParentField<Object>,
    pub probe: Probe,
}

impl ObjectImpl for Early {
    fn init(&self) {
        let host = self.container::<Host>();
        log(format!("early: container {}", host.is_some()));
        if let Some(host) = host {
            // Fields declared after this child exist already.
            log(format!("early: host probe {}", host.probe.is_live()));
            log(format!("early: late probe {}", host.late.probe.is_live()));
            log(format!("early: owned probe {}", host.owned.probe.is_live()));
        }
        for path in ["../late", "../owned", "../early", ".."] {
            let found = self.resolve(path).map(|o| o.type_name());
            log(format!("early: {path} {found:?}"));
        }
        log(format!("early: path {:?}", self.canonical_path()));
        log(format!(
            "early: siblings {}",
            self.resolve("..").map(|h| h.children().len()).unwrap_or(0)
        ));
    }
}

/// Declares `Early` before the fields its hook walks to.
#[derive(QomObject)]
#[qom(name = "adv-host")]
pub struct Host {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub early: Early,
    #[child(embedded)]
    pub late: Part,
    #[child(owned)]
    pub owned: Owned<Part>,
    pub probe: Probe,
}

impl ObjectImpl for Host {
    fn init(&self) {
        log("host: init");
    }
}

/// Attack (class 2): walks from an embedded child's `init` to fields
/// declared after it. Every `init` runs once the whole allocation exists,
/// so they all find built, live objects.
#[test]
fn init_hooks_run_after_the_whole_allocation_exists() {
    let _g = serial();
    take_log();
    let host = Owned::<Host>::new();
    let log = take_log();
    let expected = [
        "early: container true",
        "early: host probe true",
        "early: late probe true",
        "early: owned probe true",
        "early: ../late Ok(\"adv-part\")",
        "early: ../owned Ok(\"adv-part\")",
        "early: ../early Ok(\"adv-early\")",
        "early: .. Ok(\"adv-host\")",
        "early: path None",
        "early: siblings 3",
        "host: init",
    ];
    assert_eq!(log, expected);
    drop(host);
    assert_eq!(take_violations(), 0);
}

/// Attack (class 2, placed): the same walks when the container is in the
/// tree before its children's hooks could run -- it cannot be, so the
/// path is `None` until `add_child`; afterwards every path is right.
#[test]
fn paths_of_children_are_right_once_the_container_is_placed() {
    let _g = serial();
    let host = Owned::<Host>::new();
    take_log();
    qom_rt::container("/adversarial-walks")
        .unwrap()
        .add_child("host", host.clone())
        .unwrap();
    assert_eq!(
        host.early.canonical_path().as_deref(),
        Some("/adversarial-walks/host/early")
    );
    assert_eq!(
        host.owned.canonical_path().as_deref(),
        Some("/adversarial-walks/host/owned")
    );
    host.unparent();
}

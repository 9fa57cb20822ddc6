//! The tree lock is never held while an object may finalize: a finalize
//! hook may use the tree (which takes the lock) at any time.

use qom_rt::prelude::*;
use std::sync::mpsc;
use std::time::Duration;

/// An object whose finalize hook walks the tree from the root.
#[derive(QomObject)]
#[qom(name = "adv-tree-walker")]
pub struct TreeWalker {
    parent: ParentField<Object>,
}

impl ObjectImpl for TreeWalker {
    fn finalize(&self) {
        let _ = qom_rt::resolve_path("/adversarial-locks");
        let _ = qom_rt::qom_tree("/adversarial-locks");
    }
}

/// Runs `f` on another thread and fails the test if it has not returned
/// within a generous time (a deadlock).
fn within_time_limit(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    let limit = if cfg!(miri) { 600 } else { 20 };
    if finished.recv_timeout(Duration::from_secs(limit)).is_err() {
        panic!("{what}: no return within {limit} s (deadlock)");
    }
}

/// Attack: `add_child` rejects a child it was given the last reference
/// to; dropping it finalizes it, and its hook takes the tree lock.
#[test]
fn a_rejected_childs_finalize_can_use_the_tree() {
    within_time_limit("add_child rejecting its child", || {
        let parent = qom_rt::container("/adversarial-locks").unwrap();
        parent.add_child("w", Owned::<TreeWalker>::new()).unwrap();
        for bad in ["w", "", "a/b", ".."] {
            let rejected = parent.add_child(bad, Owned::<TreeWalker>::new());
            assert!(rejected.is_err(), "{bad:?} was accepted");
        }
        let path = "/adversarial-locks/w";
        qom_rt::resolve_path(path).unwrap().unparent();
        assert!(qom_rt::resolve_path(path).is_err());
    });
}

/// Attack: a cycle is refused with the parent's last reference in the
/// caller's hands; the refused child is released after the lock.
#[test]
fn a_refused_cycle_releases_the_child_after_the_lock() {
    within_time_limit("add_child refusing a cycle", || {
        let a = Owned::<TreeWalker>::new();
        let b = Owned::<TreeWalker>::new();
        a.add_child("b", b.clone()).unwrap();
        let refused = b.add_child("a", a.clone());
        assert!(refused.is_err());
        drop(b);
        drop(a);
    });
}

/// Attack: the last reference to an object is the one a path lookup took
/// (its other holder dropped meanwhile); the lookup's result is dropped
/// by the caller, outside the lock.
#[test]
fn the_last_reference_taken_by_a_lookup_finalizes_outside_the_lock() {
    within_time_limit("dropping a looked-up object", || {
        let parent = qom_rt::container("/adversarial-locks").unwrap();
        parent
            .add_child("last", Owned::<TreeWalker>::new())
            .unwrap();
        let found = qom_rt::resolve_path("/adversarial-locks/last").unwrap();
        found.unparent();
        drop(found);
        assert!(qom_rt::resolve_path("/adversarial-locks/last").is_err());
    });
}

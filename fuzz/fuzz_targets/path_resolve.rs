//! Path resolution and `info qom-tree` on arbitrary paths, absolute,
//! partial and relative: a result or an error, never a panic. Each input
//! gets a tree of its own under `/fuzz`, removed after it (and checked to
//! be gone), so inputs are independent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qom_rt::prelude::*;

#[derive(QomObject)]
#[qom(name = "fuzz-leaf")]
struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {}

#[derive(QomObject)]
#[qom(name = "fuzz-node")]
struct Node {
    parent: ParentField<Object>,
    #[child(embedded)]
    leaves: [Leaf; 3],
    #[child(owned)]
    extra: Owned<Leaf>,
}
impl ObjectImpl for Node {}

/// `/fuzz/a/{n0,n1}` and `/fuzz/b/n0`; returns `/fuzz/a`, where relative
/// paths start.
fn tree() -> Owned<Object> {
    let top = qom_rt::container("/fuzz/a").unwrap();
    for name in ["n0", "n1"] {
        top.add_child(name, Owned::<Node>::new()).unwrap();
    }
    qom_rt::container("/fuzz/b").unwrap().add_child("n0", Owned::<Node>::new()).unwrap();
    top
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let top = tree();
    if let Ok(found) = qom_rt::resolve_path(path) {
        // Whatever resolves has a path that resolves to it again.
        if let Some(canonical) = found.canonical_path() {
            let again = qom_rt::resolve_path(&canonical).unwrap();
            assert!(Owned::ptr_eq(&found, &again));
        }
    }
    let _ = top.resolve(path);
    let _ = qom_rt::qom_tree(path);
    drop(top);
    qom_rt::resolve_path("/fuzz").unwrap().unparent();
    assert!(qom_rt::resolve_path("/fuzz").is_err(), "the tree is gone");
});

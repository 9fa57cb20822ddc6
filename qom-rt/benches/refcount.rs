//! `Owned` clone+drop against `Arc` clone+drop, alone in a fresh process.
//!
//! The same comparison runs inside `runtime`, but there the two objects
//! share the heap and the caches with every other fixture, and the ratio of
//! these two identical instruction sequences (`lock inc` + sign test,
//! `lock dec` + zero test) swings between processes. Here nothing else is
//! allocated: 21 alternating rounds of each, median ratio and range.
//!
//! Run: `cargo bench -p qom-rt --bench refcount`.

mod paired;

use qom_rt::prelude::*;
use std::hint::black_box;
use std::sync::Arc;

#[derive(QomObject)]
#[qom(name = "bench-refcount-leaf")]
struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter this
    // program has nothing to match against.
    if std::env::args().skip(1).any(|a| !a.starts_with("--")) {
        return;
    }
    let owned = Owned::<Leaf>::new();
    let arc = Arc::new([0usize; 4]);
    let (median, min, max) = paired::ratio(
        || drop(black_box(owned.clone())),
        || drop(black_box(arc.clone())),
        Some(20_000_000),
    );
    println!(
        "Owned clone+drop / Arc clone+drop, alone: {:.3}  ({:.3}..{:.3})  (target <= 1.05)",
        median, min, max
    );
}

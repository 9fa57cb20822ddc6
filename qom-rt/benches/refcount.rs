//! `Owned` clone+drop against `Arc` clone+drop, alone in a fresh process.
//!
//! The same comparison runs inside `runtime`, but there the two objects
//! share the heap and the caches with every other fixture, and the ratio of
//! these two identical instruction sequences (`lock inc` + sign test,
//! `lock dec` + zero test) swings between processes. Here nothing else is
//! allocated: 21 alternating rounds of each, median ratio and range.
//!
//! Run: `cargo bench -p qom-rt --bench refcount`.

use qom_rt::prelude::*;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

#[derive(QomObject)]
#[qom(name = "bench-refcount-leaf")]
struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {}

/// Seconds taken by `n` calls of `f`.
fn time(f: &mut impl FnMut(), n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter this
    // program has nothing to match against.
    if std::env::args().skip(1).any(|a| !a.starts_with("--")) {
        return;
    }
    let owned = Owned::<Leaf>::new();
    let arc = Arc::new([0usize; 4]);
    let mut a = || drop(black_box(owned.clone()));
    let mut b = || drop(black_box(arc.clone()));
    let n = 20_000_000;
    let mut ratios: Vec<f64> = (0..21)
        .map(|round| {
            if round % 2 == 0 {
                let ta = time(&mut a, n);
                ta / time(&mut b, n)
            } else {
                let tb = time(&mut b, n);
                time(&mut a, n) / tb
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "Owned clone+drop / Arc clone+drop, alone: {:.3}  ({:.3}..{:.3})  (target <= 1.05)",
        ratios[10], ratios[0], ratios[20]
    );
}

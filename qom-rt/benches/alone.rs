//! The two targets whose routines are most sensitive to what else the
//! process holds, measured alone in a fresh process: `Owned` clone+drop
//! against `Arc` clone+drop, and creating + dropping a container with 16
//! embedded children against one `Box` of the same bytes.
//!
//! The same comparisons run inside `runtime`, but there the objects share
//! the heap and the caches with every other fixture, and the ratio of the
//! first pair (identical instruction sequences: `lock inc` + sign test,
//! `lock dec` + zero test) swings between processes. Here nothing else is
//! allocated: alternating rounds of each, median ratio and range.
//!
//! Run: `cargo bench -p qom-rt --bench alone`; a filter runs the
//! comparisons whose name contains it (`refcount`, `create_drop`).

mod measure;
mod sixteen;

use measure::{paired, plain, selected, Paired};
use qom_rt::prelude::*;
use sixteen::{plain_sixteen, Leaf, Sixteen};
use std::sync::Arc;

fn main() {
    if selected("alone/refcount") {
        let owned = Owned::<Leaf>::new();
        let arc = Arc::new([0usize; 4]);
        report(
            "Owned clone+drop / Arc clone+drop",
            "<= 1.05",
            paired(
                &mut plain(|| owned.clone()),
                &mut plain(|| arc.clone()),
                Some(20_000_000),
            ),
        );
    }
    if !selected("alone/create_drop") {
        return;
    }
    // Both routines allocate the same size class, so the allocator hands
    // each the chunk the other just freed, and where that chunk lies
    // decides the plain struct's cost: its 16-byte stores straddle cache
    // lines at some addresses (16-byte phases modulo 64) and not at others.
    // Measure at each phase: four chunks allocated back to back are
    // `size + 16` bytes apart, which walks through all four phases, and
    // freeing one makes it the next one handed out.
    let mut chunks: Vec<Option<Box<sixteen::PlainSixteen>>> =
        (0..4).map(|_| Some(plain_sixteen())).collect();
    for (phase, slot) in chunks.iter_mut().enumerate() {
        let chunk = slot.take().expect("allocated above");
        let address = &*chunk as *const sixteen::PlainSixteen as usize;
        drop(chunk);
        report(
            &format!(
                "create+drop 16 embedded children / one Box, chunk {phase} (address % 64 = {})",
                address % 64
            ),
            "<= 1.3",
            paired(
                &mut plain(Owned::<Sixteen>::new),
                &mut plain(plain_sixteen),
                Some(2_000_000),
            ),
        );
        // Take the chunk back, so that the next phase's is the only one free.
        *slot = Some(plain_sixteen());
    }
}

fn report(label: &str, target: &str, p: Paired) {
    println!(
        "{label}, alone, measured now: {:.3}  (median of {} alternating rounds; range {:.3}..{:.3}; \
         fastest rounds {:.3})  target {target}",
        p.median,
        measure::ROUNDS,
        p.min,
        p.max,
        p.fastest
    );
}

//! Paired timing shared by the benchmark programs: two routines timed in
//! alternation, so that both see the same machine. On a shared or
//! frequency-scaling machine, two criterion benchmarks run seconds apart
//! can differ by 20% for routines of a few nanoseconds.

use std::time::Instant;

/// The ratio of A's time to B's over 21 rounds of `n` calls each (A then B
/// on even rounds, B then A on odd ones): median, minimum and maximum.
/// `n = None` picks it so that a round of A takes about 5 ms.
pub fn ratio(mut a: impl FnMut(), mut b: impl FnMut(), n: Option<u64>) -> (f64, f64, f64) {
    let n = n.unwrap_or_else(|| {
        let mut n = 1_000u64;
        while time(&mut a, n) < 0.005 {
            n *= 2;
        }
        n
    });
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
    (ratios[10], ratios[0], ratios[20])
}

/// Seconds taken by `n` calls of `f`.
fn time(f: &mut impl FnMut(), n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64()
}

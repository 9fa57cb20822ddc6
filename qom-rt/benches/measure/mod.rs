//! What the benchmark programs print is measured in the run that prints
//! it. Criterion runs the benchmarks its command line selects (a name
//! filter selects some); each one's routine is registered here, which
//! times every batch criterion asks for. The summary at the end then
//! prints, for each ratio whose two benchmarks ran, the two routines timed
//! again in alternation (see [`Runs::ratio`]), next to the medians of
//! criterion's batches of this run. Nothing is read back from
//! `target/criterion`, so a filtered run prints no stale figure: a ratio
//! with a side that did not run is not printed at all.
//!
//! Shared by `qom-rt/benches/*.rs` and `device-benches/benches/*.rs`.

#![allow(dead_code)] // each program uses part of it

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A benchmarked routine in the shape of criterion's `iter_custom`: runs
/// `n` iterations and returns the time they took.
pub type Routine<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// A routine timing `f`, its result dropped inside the timed part.
pub fn plain<'a, R>(mut f: impl FnMut() -> R + 'a) -> Routine<'a> {
    Box::new(move |n| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        start.elapsed()
    })
}

/// A routine timing `make` alone: its results are kept, 32 at a time, and
/// dropped outside the timed part (criterion's `iter_batched` with
/// `BatchSize::NumIterations(32)`: the allocator recycles the previous
/// batch's memory, so creation is not measured as page faults).
pub fn keeping<'a, R>(mut make: impl FnMut() -> R + 'a) -> Routine<'a> {
    Box::new(move |n| {
        let mut batch = Vec::with_capacity(32);
        let mut total = Duration::ZERO;
        let mut done = 0;
        while done < n {
            let k = (n - done).min(32);
            let start = Instant::now();
            for _ in 0..k {
                batch.push(make());
            }
            total += start.elapsed();
            batch.clear();
            done += k;
        }
        total
    })
}

struct Entry<'a> {
    id: String,
    routine: Routine<'a>,
    /// Nanoseconds per iteration of each batch criterion ran.
    batches: Vec<f64>,
}

/// The routines of one benchmark program, and what criterion measured.
pub struct Runs<'a> {
    entries: RefCell<Vec<Entry<'a>>>,
}

/// A criterion benchmark group whose routines are timed by [`Runs`] (it
/// finishes when dropped).
pub struct Group<'r, 'a, 'c> {
    runs: &'r Runs<'a>,
    inner: BenchmarkGroup<'c, WallTime>,
    name: &'static str,
}

impl<'a, 'c> Group<'_, 'a, 'c> {
    /// Registers `routine` as the benchmark `id` of the group (known to
    /// [`Runs`] as `group/id`).
    pub fn bench(&mut self, id: &str, routine: Routine<'a>) -> &mut Self {
        let runs = self.runs;
        let index = {
            let mut entries = runs.entries.borrow_mut();
            entries.push(Entry {
                id: format!("{}/{id}", self.name),
                routine,
                batches: Vec::new(),
            });
            entries.len() - 1
        };
        self.inner
            .bench_function(id, |b| b.iter_custom(|n| runs.time(index, n)));
        self
    }

    /// Criterion's group, for its settings.
    pub fn settings(&mut self) -> &mut BenchmarkGroup<'c, WallTime> {
        &mut self.inner
    }
}

/// Prints the heading of a program's summary, unless this run does not
/// measure.
pub fn heading(text: &str) {
    if measuring() {
        println!("\n{text}");
    }
}

/// Whether this run measures: not criterion's `--test` (each routine run
/// once, to check it works) or `--list`.
pub fn measuring() -> bool {
    !std::env::args().any(|a| a == "--test" || a == "--list")
}

impl<'a> Runs<'a> {
    pub fn new() -> Self {
        Runs {
            entries: RefCell::new(Vec::new()),
        }
    }

    /// Criterion's benchmark group `name`, whose routines are registered
    /// here.
    pub fn group<'r, 'c>(&'r self, c: &'c mut Criterion, name: &'static str) -> Group<'r, 'a, 'c> {
        Group {
            runs: self,
            inner: c.benchmark_group(name),
            name,
        }
    }

    fn time(&self, index: usize, n: u64) -> Duration {
        let mut entries = self.entries.borrow_mut();
        let entry = &mut entries[index];
        let t = (entry.routine)(n);
        entry.batches.push(t.as_secs_f64() * 1e9 / n as f64);
        t
    }

    fn index(&self, id: &str) -> usize {
        let entries = self.entries.borrow();
        entries
            .iter()
            .position(|e| e.id == id)
            .unwrap_or_else(|| panic!("no benchmark `{id}`"))
    }

    /// The median time per iteration of criterion's batches of `id` in
    /// this run, in ns; `None` if criterion did not run it.
    pub fn ns(&self, id: &str) -> Option<f64> {
        let mut batches = self.entries.borrow()[self.index(id)].batches.clone();
        batches.sort_by(f64::total_cmp);
        batches.get(batches.len() / 2).copied()
    }

    /// `a`'s time over `b`'s, both routines timed again now in
    /// [`ROUNDS`] alternating rounds (see [`paired`]), if criterion ran both and
    /// this run measures.
    pub fn ratio(&self, a: &str, b: &str) -> Option<Paired> {
        if !measuring() || self.ns(a).is_none() || self.ns(b).is_none() {
            return None;
        }
        let (ia, ib) = (self.index(a), self.index(b));
        let mut entries = self.entries.borrow_mut();
        let (first, second) = entries.split_at_mut(ia.max(ib));
        let (ea, eb) = match ia < ib {
            true => (&mut first[ia], &mut second[0]),
            false => (&mut second[0], &mut first[ib]),
        };
        Some(paired(&mut ea.routine, &mut eb.routine, None))
    }

    /// One line for a ratio, if both sides ran: the paired ratio, its
    /// range, and the medians of criterion's batches in this run.
    pub fn print_ratio(&self, label: &str, target: &str, a: &str, b: &str) {
        if let (Some(p), Some(x), Some(y)) = (self.ratio(a, b), self.ns(a), self.ns(b)) {
            println!(
                "{label:<52} {:>6.3}  ({:.3}..{:.3}; fastest rounds {:.3}; criterion {x:.2} ns / {y:.2} ns)  target {target}",
                p.median, p.min, p.max, p.fastest
            );
        }
    }

    /// One line for a time, if it ran: the median of criterion's batches.
    pub fn print_time(&self, label: &str, id: &str) {
        if let Some(ns) = self.ns(id).filter(|_| measuring()) {
            println!("{label:<52} {ns:>10.2} ns  (median of criterion's batches, this run)");
        }
    }
}

/// A ratio measured by [`paired`].
#[derive(Clone, Copy, Debug)]
pub struct Paired {
    /// The median of the rounds' ratios.
    pub median: f64,
    /// The smallest and largest of them.
    pub min: f64,
    pub max: f64,
    /// A's fastest round over B's: each side's least disturbed round.
    pub fastest: f64,
}

/// Rounds of a paired measurement.
pub const ROUNDS: usize = 41;

/// The ratio of A's time to B's over [`ROUNDS`] rounds of `n` iterations
/// each (A then B on even rounds, B then A on odd ones): see [`Paired`]. Two criterion benchmarks run seconds apart, and on a
/// shared or frequency-scaling machine routines of a few nanoseconds can
/// then differ by 20%; timed in alternation, both see the same machine.
/// Rounds are short (`n = None` picks it so that a round of A takes about
/// a millisecond) so that few of them are cut by another process, and the
/// median ignores those.
pub fn paired(a: &mut Routine<'_>, b: &mut Routine<'_>, n: Option<u64>) -> Paired {
    let n = n.unwrap_or_else(|| {
        let mut n = 1_000u64;
        while a(n) < Duration::from_millis(1) {
            n *= 2;
        }
        n
    });
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut best_a, mut best_b) = (f64::INFINITY, f64::INFINITY);
    for round in 0..ROUNDS {
        let (ta, tb) = match round % 2 {
            0 => {
                let ta = a(n);
                (ta, b(n))
            }
            _ => {
                let tb = b(n);
                (a(n), tb)
            }
        };
        let (ta, tb) = (ta.as_secs_f64(), tb.as_secs_f64());
        ratios.push(ta / tb);
        best_a = best_a.min(ta);
        best_b = best_b.min(tb);
    }
    ratios.sort_by(f64::total_cmp);
    Paired {
        median: ratios[ROUNDS / 2],
        min: ratios[0],
        max: ratios[ROUNDS - 1],
        fastest: best_a / best_b,
    }
}

/// Whether a program's own measurement `id` is selected by the command
/// line, for programs that do not use criterion: selected unless a filter
/// is given that `id` does not contain (criterion matches its filter as a
/// regular expression; a plain substring is what is used in practice).
pub fn selected(id: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    measuring() && (filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str())))
}

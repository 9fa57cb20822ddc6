//! The create+drop and clone+drop routines of the performance targets,
//! each in a function of its own, for counting instructions with
//! callgrind: a figure that does not move with the machine's load, next to
//! the timings (which do). `scripts/figures.sh` runs it as
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='instructions::routine_*' \
//!     target/release/examples/instructions ROUTINE N
//! ```
//!
//! and divides by `N`. The routines are `owned-clone-drop`,
//! `arc-clone-drop`, `create-drop-16`, `box-16`, `create-drop-leaf`.

use qom_rt::prelude::*;
use std::hint::black_box;
use std::sync::Arc;

#[derive(QomObject)]
#[qom(name = "instructions-leaf")]
struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {}

#[derive(QomObject)]
#[qom(name = "instructions-sixteen")]
struct Sixteen {
    parent: ParentField<Object>,
    #[child(embedded)]
    #[allow(dead_code)] // the children are the point, not their use
    leaves: [Leaf; 16],
}
impl ObjectImpl for Sixteen {}

/// The bytes of `Sixteen` as a plain struct.
#[allow(dead_code)] // only built and dropped
struct PlainSixteen {
    header: [usize; 4],
    leaves: [[usize; 4]; 16],
}

#[inline(never)]
fn routine_owned_clone_drop(object: &Owned<Leaf>, n: usize) {
    for _ in 0..n {
        drop(black_box(object.clone()));
    }
}

#[inline(never)]
fn routine_arc_clone_drop(arc: &Arc<[usize; 4]>, n: usize) {
    for _ in 0..n {
        drop(black_box(arc.clone()));
    }
}

#[inline(never)]
fn routine_create_drop_16(n: usize) {
    for _ in 0..n {
        drop(black_box(Owned::<Sixteen>::new()));
    }
}

#[inline(never)]
fn routine_box_16(n: usize) {
    for _ in 0..n {
        drop(black_box(Box::new(PlainSixteen {
            header: [black_box(1), 0, 0, 0],
            leaves: [[black_box(2), 0, 0, 0]; 16],
        })));
    }
}

#[inline(never)]
fn routine_create_drop_leaf(n: usize) {
    for _ in 0..n {
        drop(black_box(Owned::<Leaf>::new()));
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let routine = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    // Built before the counted routines (the registry and the type tables
    // are built on first use).
    let leaf = Owned::<Leaf>::new();
    let arc = Arc::new([0usize; 4]);
    drop(Owned::<Sixteen>::new());
    match routine.as_str() {
        "owned-clone-drop" => routine_owned_clone_drop(&leaf, n),
        "arc-clone-drop" => routine_arc_clone_drop(&arc, n),
        "create-drop-16" => routine_create_drop_16(n),
        "box-16" => routine_box_16(n),
        "create-drop-leaf" => routine_create_drop_leaf(n),
        other => {
            eprintln!("unknown routine `{other}`: owned-clone-drop, arc-clone-drop, create-drop-16, box-16, create-drop-leaf");
            std::process::exit(2);
        }
    }
}

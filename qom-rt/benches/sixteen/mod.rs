//! The fixtures of the create+drop comparison, shared by the benchmark
//! programs: a container with 16 embedded children, and a plain struct
//! with the same bytes.

use qom_rt::prelude::*;
use std::hint::black_box;

/// An object that is only its header.
#[derive(QomObject)]
#[qom(name = "bench-leaf")]
pub struct Leaf {
    parent: ParentField<Object>,
}
impl ObjectImpl for Leaf {}

/// A container with 16 embedded children: one allocation of 17 headers.
#[derive(QomObject)]
#[qom(name = "bench-sixteen")]
pub struct Sixteen {
    parent: ParentField<Object>,
    #[child(embedded)]
    pub leaves: [Leaf; 16],
}
impl ObjectImpl for Sixteen {}

/// The same bytes as `Sixteen` (17 headers of 4 words), as a plain struct.
#[allow(dead_code)] // only built and dropped: the allocation is the point
pub struct PlainSixteen {
    header: [usize; 4],
    leaves: [[usize; 4]; 16],
}

/// One `Box` with the bytes of a container and 16 children.
pub fn plain_sixteen() -> Box<PlainSixteen> {
    Box::new(PlainSixteen {
        header: [black_box(1), 0, 0, 0],
        leaves: [[black_box(2), 0, 0, 0]; 16],
    })
}

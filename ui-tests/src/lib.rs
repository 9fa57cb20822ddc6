//! The compile-fail and compile-pass catalogue of `qom`: see `README.md`
//! and `tests/`. The only code here is fixtures the class cases share.

pub mod shapes;
pub mod signals;

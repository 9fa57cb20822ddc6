//! The compile-fail and compile-pass catalogue of `qom`: see `README.md`
//! and `tests/`. This crate has no code of its own.

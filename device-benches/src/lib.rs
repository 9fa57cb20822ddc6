//! Benchmarks of the device library: see `benches/dispatch.rs`. They live
//! in their own crate so that criterion (and the command-line parser it
//! brings) stays out of `qom-devices`'s dependency tree.

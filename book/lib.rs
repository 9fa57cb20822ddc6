//! The guide's chapters as rustdoc, so `cargo test` compiles and runs every
//! Rust sample in `book/src/*.md` (compile_fail samples are checked too).

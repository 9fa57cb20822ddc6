//! The `qom` program (placeholder).
fn main() {}

//! The guide's chapters as rustdoc, so `cargo test -p qom-book` compiles
//! and runs every Rust sample in `book/src/*.md` (and checks that every
//! `compile_fail` sample fails to compile).
//!
//! Each module below is one chapter; its documentation is the chapter's
//! Markdown, included verbatim. Build the book itself with
//! `mdbook build book`.

#[doc = include_str!("src/introduction.md")]
pub mod introduction {}

#[doc = include_str!("src/design.md")]
pub mod design {}

#[doc = include_str!("src/quick-start.md")]
pub mod quick_start {}

#[doc = include_str!("src/objects.md")]
pub mod objects {}

#[doc = include_str!("src/children.md")]
pub mod children {}

#[doc = include_str!("src/lifetime.md")]
pub mod lifetime {}

#[doc = include_str!("src/properties.md")]
pub mod properties {}

#[doc = include_str!("src/tree.md")]
pub mod tree {}

#[doc = include_str!("src/devices.md")]
pub mod devices {}

#[doc = include_str!("src/memory.md")]
pub mod memory {}

#[doc = include_str!("src/hot-unplug.md")]
pub mod hot_unplug {}

#[doc = include_str!("src/migration.md")]
pub mod migration {}

#[doc = include_str!("src/compile-errors.md")]
pub mod compile_errors {}

#[doc = include_str!("src/runtime-errors.md")]
pub mod runtime_errors {}

#[doc = include_str!("src/porting.md")]
pub mod porting {}

#[doc = include_str!("src/monitor.md")]
pub mod monitor {}

#[doc = include_str!("src/qmp.md")]
pub mod qmp {}

#[doc = include_str!("src/fidelity.md")]
pub mod fidelity {}

#[doc = include_str!("src/guests.md")]
pub mod guests {}

#[doc = include_str!("src/usb.md")]
pub mod usb {}

#[doc = include_str!("src/performance.md")]
pub mod performance {}

#[doc = include_str!("src/internals.md")]
pub mod internals {}

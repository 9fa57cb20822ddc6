//! Adversarial tests: what a hostile but entirely safe caller can do to
//! the lifetime promise (safe code never reaches a freed, finalized or
//! half-built object). One module per class of attack; each test says the
//! attack it makes. They run natively, under Miri with Stacked and Tree
//! Borrows and several seeds with preemption (`.ci/miri.sh`), and the races also as
//! native stress runs (`ADVERSARIAL_ROUNDS=1000000`).

#[path = "../common/mod.rs"]
mod common;

mod computed;
mod fixtures;
mod hooks;
mod locks;
mod panics;
mod races;
mod walks;

#[global_allocator]
static GLOBAL: common::CountingAlloc = common::CountingAlloc;

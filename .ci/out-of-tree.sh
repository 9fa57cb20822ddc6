#!/usr/bin/env bash
# Builds and tests examples/out-of-tree, the device crate that sits
# outside the workspace and depends on the qom crates as a user's crate
# would: formatting, lints with warnings denied, its tests (which run its
# own `qom` binary with the `edu` device linked in).
#
# It shares the workspace's target directory, so the qom crates built by
# the workspace's own steps are reused.
set -euo pipefail
cd "$(dirname "$0")/../examples/out-of-tree"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}"

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test

#!/usr/bin/env bash
# Builds every cargo-fuzz target and replays its checked-in corpus once
# (`-runs=0`: each input run exactly once, no new inputs), so a crash found
# earlier, or a target that no longer builds, fails CI. Fuzzing itself
# (`cargo +nightly fuzz run TARGET`) is a longer job; RELIABILITY.md has
# the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
install_nightly
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cd fuzz
step "fuzz: build"
cargo "+$NIGHTLY" fuzz build
for target in $(cargo "+$NIGHTLY" fuzz list); do
    step "fuzz: replay the corpus of $target"
    cargo "+$NIGHTLY" fuzz run "$target" "corpus/$target" -- -runs=0
done

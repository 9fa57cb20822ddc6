#!/usr/bin/env bash
# Miri, with Stacked Borrows on every test of the runtime and the device
# library and Tree Borrows on the runtime and the device races (the tests
# that spawn processes or need /dev/kvm skip themselves under Miri), then
# the adversarial suite again with more seeds and preemption. Fails if
# Miri cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
install_nightly
cargo "+$NIGHTLY" miri setup

packages=(-p qom-rt -p qom-devices)
step "miri: stacked borrows"
cargo "+$NIGHTLY" miri test "${packages[@]}"
# Tree Borrows, the second aliasing model, on every test of the runtime
# (where the unsafe code is) and on the device tests that race accesses
# against unplug through it (and its unit tests, the xHCI's transfer race
# included); its migration tests, which add no unsafe path and are the
# slowest under Miri, run under Stacked Borrows only,
# which keeps CI within its time budget.
step "miri: tree borrows"
MIRIFLAGS="-Zmiri-tree-borrows" cargo "+$NIGHTLY" miri test -p qom-rt
MIRIFLAGS="-Zmiri-tree-borrows" cargo "+$NIGHTLY" miri test -p qom-devices \
    --lib --test seed_race --test hotplug --test registers --test machines

# The attacks once more, under other schedules: each seed picks other
# interleavings and preemption points for the races.
for flags in "-Zmiri-seed=2 -Zmiri-preemption-rate=0.1" \
             "-Zmiri-seed=3 -Zmiri-preemption-rate=0.05" \
             "-Zmiri-tree-borrows -Zmiri-seed=4 -Zmiri-preemption-rate=0.1"; do
    step "miri: adversarial suite, $flags"
    MIRIFLAGS="$flags" cargo "+$NIGHTLY" miri test -p qom-rt --test adversarial
done

#!/usr/bin/env bash
# The differential test against QEMU: the same qtest script drives QEMU
# 7.2's `virt` and qom's, and every read is compared
# (monitor/tests/qtest/fidelity.py; the expected differences are listed
# there and in book/src/fidelity.md).
#
# Installs qemu-system-arm with apt when it is missing and apt can run;
# otherwise the test prints why it is skipped.
#
#   .ci/fidelity.sh              the differential test
#   .ci/fidelity.sh fuzz SECONDS also a random-access run of that length
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh

if ! command -v qemu-system-aarch64 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "fidelity: installing qemu-system-arm"
        apt-get install -y qemu-system-arm >/dev/null
    fi
fi

step "fidelity: build qom"
cargo build -p qom-monitor --bin qom
qom="$PWD/target/debug/qom"

step "fidelity: qtest differential test against QEMU"
python3 monitor/tests/qtest/fidelity.py --qom "$qom"

if [ "${1:-}" = fuzz ]; then
    step "fidelity: random accesses for ${2:-60} s"
    python3 monitor/tests/qtest/fuzz_fidelity.py --qom "$qom" --seconds "${2:-60}"
fi

#!/usr/bin/env bash
# QMP checked with QEMU's own Python client library, `qemu.qmp` (PyPI
# package `qemu.qmp`, installed into a virtual environment under target/):
#
#  1. qmp_client_test.py: connect, negotiate, every command, device_add then
#     device_del with DEVICE_DELETED for each hot-pluggable type, events;
#  2. bad_input_test.py: malformed and ill-typed requests, a 16 MiB line,
#     clients that disconnect mid-request or never negotiate, two clients
#     adding the same id at once;
#  3. qmp_shell_check.py: qmp-shell driven through a pseudo-terminal.
#
# 1 and 2 also run against QEMU (qemu-system-x86_64) when it is installed,
# so that the two can be compared; the expected differences are written
# in the scripts and in book/src/qmp.md. The Rust side of the same checks
# is monitor/tests/qmp.rs (in `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh

step "qmp: build qom"
cargo build -p qom-monitor --bin qom
export QOM="$PWD/target/debug/qom"

step "qmp: qemu.qmp in target/qmp-venv"
venv=target/qmp-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet 'qemu.qmp==0.0.6'

qemu=()
if command -v qemu-system-x86_64 >/dev/null 2>&1; then
    qemu=(--qemu "$(command -v qemu-system-x86_64)")
else
    echo "qemu-system-x86_64 not installed: checking qom only (apt-get install qemu-system-x86 to compare)"
fi

step "qmp: qemu.qmp client checks"
"$venv/bin/python" monitor/tests/qmp/qmp_client_test.py "${qemu[@]}"

step "qmp: bad input"
"$venv/bin/python" monitor/tests/qmp/bad_input_test.py "${qemu[@]}"

step "qmp: qmp-shell through a pseudo-terminal"
"$venv/bin/python" monitor/tests/qmp/qmp_shell_check.py --qmp-shell "$venv/bin/qmp-shell"

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

qemu=$(command -v qemu-system-aarch64 || true)
unpacked="$PWD/target/qemu-7.2/root/usr/bin/qemu-system-aarch64"
if [ -z "$qemu" ] && [ -x "$unpacked" ]; then
    qemu=$unpacked
fi
if [ -z "$qemu" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "fidelity: installing qemu-system-arm"
    if apt-get install -y qemu-system-arm >/dev/null 2>&1; then
        qemu=$(command -v qemu-system-aarch64)
    else
        # apt can refuse Debian 12's QEMU 7.2 when another QEMU's packages
        # are installed (a newer qemu-utils breaks qemu-system-common <
        # 8.0): unpack 7.2's packages under target/ instead, with the
        # libraries it links (which install alongside anything).
        echo "apt refused qemu-system-arm; unpacking QEMU 7.2 under target/qemu-7.2"
        mkdir -p target/qemu-7.2
        (cd target/qemu-7.2 &&
            apt-get download qemu-system-arm qemu-system-common qemu-system-data >/dev/null 2>&1 &&
            for deb in ./*.deb; do dpkg -x "$deb" root; done) || true
        apt-get install -y libfdt1 libcapstone4 libpmem1 librdmacm1 libibverbs1 libslirp0 \
            libvdeplug2 >/dev/null 2>&1 || true
        if [ -x "$unpacked" ] && "$unpacked" --version >/dev/null 2>&1; then
            qemu=$unpacked
        fi
    fi
fi

step "fidelity: build qom"
cargo build -p qom-monitor --bin qom
qom="$PWD/target/debug/qom"

step "fidelity: qtest differential test against QEMU"
python3 monitor/tests/qtest/fidelity.py --qom "$qom" ${qemu:+--qemu "$qemu"}

if [ "${1:-}" = fuzz ]; then
    step "fidelity: random accesses for ${2:-60} s"
    python3 monitor/tests/qtest/fuzz_fidelity.py --qom "$qom" --seconds "${2:-60}" ${qemu:+--qemu "$qemu"}
fi

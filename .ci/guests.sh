#!/usr/bin/env bash
# The tests that run guests under KVM: SeaBIOS against QEMU's reference
# log (through the Rust API and through `qom`), the 1,000-cycle
# hot-unplug tests under a running guest (Rust API, `qom`, `Monitor` in
# process), system_reset of the in-kernel PIC, IOAPIC and PIT, and the
# USB ones in vmm/tests: SeaBIOS finding usb-kbd and booting a sector
# from usb-storage on our xHCI and UHCI (against QEMU's logs), and 100
# unplugs of the disk and of the controller, each under a guest freshly
# booted from the disk and streaming from it; and migration of running
# guests through `qom` (monitor/tests/migration_guest.rs: a counting guest
# across a snapshot and live migrations, migrate_cancel, refused streams,
# SeaBIOS's boot menu and the USB boot sector across a live migration).
#
# Installs what they need with apt when it is missing: seabios (the
# firmware), binutils (as, ld: the test guests are assembled at build
# time), qemu-system-x86 (the oracle: reference captures, the benchmark).
#
# Where /dev/kvm is usable the tests run and must pass, and none may skip:
# a skip there means something they need is missing, which fails this
# script. Where it is not, every test prints that it skipped and why, and
# this script says so; nothing passes silently.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -f /usr/share/seabios/bios-256k.bin ] || need+=(seabios)
{ command -v as && command -v ld; } >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    kvm=usable
    echo "/dev/kvm is usable: the guest tests run and must pass"
else
    kvm=unusable
    echo "/dev/kvm is not usable here ($(ls -l /dev/kvm 2>&1)): the guest tests print that they skipped, and why"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --nocapture: the skip messages, and the SeaBIOS lines side by side with
# QEMU's, go to the log. (vmm/tests/usb_unplug.rs boots SeaBIOS 300 times,
# three machines side by side: the longest test here.)
cargo test -p qom-vmm --tests -- --nocapture 2>&1 | tee -a "$log"
cargo test -p qom-monitor --test guest -- --nocapture 2>&1 | tee -a "$log"
cargo test -p qom-monitor --test migration_guest -- --nocapture 2>&1 | tee -a "$log"

skipped=$(grep -E "skipped: |skipped \(" "$log" || true)
if [ -n "$skipped" ]; then
    echo
    echo "guest tests skipped:"
    echo "$skipped"
    if [ "$kvm" = usable ]; then
        echo "FAIL: /dev/kvm is usable, so no guest test may skip"
        exit 1
    fi
fi
echo "guest tests: done (/dev/kvm $kvm)"

#!/bin/sh
# Captures SeaBIOS's debug log (port 0x402) under Debian's QEMU 7.2 with KVM,
# as checked in next to this script. Needs qemu-system-x86 and seabios.
# Usage: sh capture.sh [OUTDIR]   (default: this script's directory)
set -eu
out=${1:-$(dirname "$0")}
bios=/usr/share/seabios
run() { # run NAME BIOS EXTRA-ARGS...: boots until "No bootable device.", prints wall time
    name=$1 image=$2; shift 2
    log="$out/$name.log"
    rm -f "$log"
    start=$(date +%s.%N)
    qemu-system-x86_64 -accel kvm -M pc -nodefaults -display none -monitor none \
        -bios "$bios/$image" -serial null \
        -debugcon "file:$log" -global isa-debugcon.iobase=0x402 "$@" &
    pid=$!
    while ! grep -qa "${UNTIL:-No bootable device}" "$log" 2>/dev/null; do
        kill -0 $pid 2>/dev/null || { echo "$name: QEMU exited early" >&2; exit 1; }
        sleep 0.05
    done
    end=$(date +%s.%N)
    kill $pid; wait $pid 2>/dev/null || true
    echo "$name: start to '${UNTIL:-No bootable device}' in $(echo "$end - $start" | bc) s"
}
# QEMU's default firmware for `pc` (bios-256k.bin: the build with the xHCI driver).
run seabios-256k-xhci-usb bios-256k.bin -device qemu-xhci,id=usb0 -usb
# Debian's 128 KiB bios.bin has no xHCI driver: it enumerates the device only.
run seabios-128k-xhci-usb bios.bin -device qemu-xhci,id=usb0 -usb
# The plain machine: no USB at all.
run seabios-256k-plain bios-256k.bin
# Without the kvmvapic option ROM (which our pc does not have): SeaBIOS
# registers that legacy ROM as a boot entry ahead of the drives, so with
# it the hard disk is tried before the floppy, without it after.
run seabios-256k-xhci-usb-novapic bios-256k.bin -device qemu-xhci,id=usb0 -usb \
    -global apic-common.vapic=off
# USB devices on the xHCI controller (vmm/tests/usb_seabios.rs), without
# kvmvapic as our pc: the keyboard.
run seabios-256k-xhci-kbd bios-256k.bin -device qemu-xhci,id=usb0 \
    -device usb-kbd,bus=usb0.0 -global apic-common.vapic=off
# The USB disk (vmm/tests/usb_storage.rs): the test's image, written by the
# usb-disk example (boot sector `usb_boot`, mode 0), booted from usb-storage.
disk=$(mktemp --suffix=.img)
cargo run -q -p qom-test-support --example usb-disk -- "$disk" 0
UNTIL="USBBOOT ok" run seabios-256k-xhci-storage bios-256k.bin -device qemu-xhci,id=usb0 \
    -drive "file=$disk,if=none,id=d0,format=raw" -device usb-storage,drive=d0,bus=usb0.0 \
    -global apic-common.vapic=off
rm -f "$disk"
# The boot menu (vmm/tests/usb_storage.rs): -boot menu=on, the keyboard and
# the disk; HMP's `sendkey esc` at "Press ESC for boot menu", `sendkey 1` at
# the menu, through a monitor socket.
disk=$(mktemp --suffix=.img)
sock=$(mktemp -u)
cargo run -q -p qom-test-support --example usb-disk -- "$disk" 0
log="$out/seabios-256k-xhci-menu.log"
rm -f "$log"
qemu-system-x86_64 -accel kvm -M pc -nodefaults -display none -bios "$bios/bios-256k.bin" \
    -serial null -debugcon "file:$log" -global isa-debugcon.iobase=0x402 \
    -global apic-common.vapic=off -boot menu=on -device qemu-xhci,id=usb0 \
    -device usb-kbd,bus=usb0.0 -drive "file=$disk,if=none,id=d0,format=raw" \
    -device usb-storage,drive=d0,bus=usb0.0 -monitor "unix:$sock,server,nowait" &
pid=$!
python3 - "$log" "$sock" <<'PY'
import socket, sys, time
log, sock = sys.argv[1], sys.argv[2]
def wait(text):
    for _ in range(3000):
        try:
            if text in open(log, "rb").read().decode("latin1"):
                return
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    sys.exit(f"no '{text}' in {log}")
wait("Press ESC for boot menu")
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(b"sendkey esc\n")
wait("Select boot device")
time.sleep(0.3)
s.sendall(b"sendkey 1\n")
wait("USBBOOT ok")
PY
kill $pid; wait $pid 2>/dev/null || true
rm -f "$disk" "$sock"
echo "seabios-256k-xhci-menu: captured"
# The same devices on the PIIX3's UHCI (-usb, bus usb-bus.0).
run seabios-256k-uhci-kbd bios-256k.bin -usb -device usb-kbd,bus=usb-bus.0 \
    -global apic-common.vapic=off
disk=$(mktemp --suffix=.img)
cargo run -q -p qom-test-support --example usb-disk -- "$disk" 0
UNTIL="USBBOOT ok" run seabios-256k-uhci-storage bios-256k.bin -usb \
    -drive "file=$disk,if=none,id=d0,format=raw" -device usb-storage,drive=d0,bus=usb-bus.0 \
    -global apic-common.vapic=off
rm -f "$disk"

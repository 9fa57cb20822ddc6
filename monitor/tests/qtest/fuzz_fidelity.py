#!/usr/bin/env python3
"""Fuzz-differential run: random PL011 and PCI-config access sequences sent
to QEMU 7.2 and to `qom` over qtest, every read compared.

Each round starts both sides with an xHCI plugged, programs its BAR 0 and
command register the same way on both, then sends the same random
sequence of reads and writes: PL011 registers at every width (including
narrow and 8-byte accesses), the xHCI's and an empty slot's config space
through ECAM. The areas where fidelity.py's expected differences live are
left out (the baud divisors' upper bits, CR.LBE loopback, the host
bridge's function, the PCI Express capability), so that every difference
found is a new one.

Usage: fuzz_fidelity.py --qom PATH [--qemu PATH] [--seconds N] [--seed S]
Prints the rounds, reads compared and differences, and the seed and
command of the first differences; exit status 1 if any read differed.
"""

import argparse
import random
import shutil
import sys
import time

import fidelity

UART = fidelity.UART
XHCI_CFG = fidelity.XHCI_CFG
EMPTY_CFG = fidelity.ECAM + (2 << 15)
WIDTH = {1: "b", 2: "w", 4: "l", 8: "q"}
PL011_REGS = [0x00, 0x04, 0x18, 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C,
              0x40, 0x44, 0x48, 0x08, 0x1C, 0x4C, 0x800, 0xFE0, 0xFE4, 0xFF0, 0xFFC]
# Config registers written: command, cache line size, latency, BARs,
# interrupt line, ROM, subsystem (read-only), MSI-X control.
CFG_WRITES = [0x04, 0x0C, 0x0D, 0x10, 0x14, 0x18, 0x30, 0x3C, 0x2C, 0x92, 0x06, 0x00]


def pl011_op(rng):
    reg = rng.choice(PL011_REGS)
    size = rng.choice([1, 2, 4, 4, 4, 8])
    addr = UART + reg + (rng.randrange(0, 4, size) if size < 4 else 0)
    if size == 8:
        addr &= ~7
    if rng.random() < 0.5:
        return f"read{WIDTH[size]} {addr:#x}"
    value = rng.getrandbits(8 * size)
    reg_at = (addr - UART) & ~3
    if reg_at == 0x24:
        value &= 0xFFFF  # upper IBRD bits: an expected difference
    if reg_at == 0x28:
        value &= 0x3F
    if reg_at == 0x30 and size >= 1:
        value &= ~0x80  # CR.LBE, loopback: an expected difference
    if size == 8:
        # The upper half lands on the next register: keep it clear of
        # IBRD/FBRD's upper bits and CR.LBE too.
        value &= 0x0000003F_0000FFFF if (addr - UART) == 0x24 else 0xFFFF_FF7F_FFFF_FF7F
        if (addr - UART) == 0x20:
            value &= 0x0000FFFF_FFFFFFFF
        if (addr - UART) == 0x28:
            value &= 0xFFFFFF7F_0000003F
    return f"write{WIDTH[size]} {addr:#x} {value:#x}"


def cfg_op(rng):
    base = rng.choice([XHCI_CFG, XHCI_CFG, XHCI_CFG, EMPTY_CFG])
    size = rng.choice([1, 2, 4])
    if rng.random() < 0.6:
        off = rng.randrange(0, 0xA0, size)
        if base == XHCI_CFG and off in (0x90, 0x91):
            # MSI-X's next-capability byte points at QEMU's PCI Express
            # capability: an expected difference. Read the control word.
            off = 0x92 if size <= 2 else 0x94
        return f"read{WIDTH[size]} {base + off:#x}"
    off = rng.choice(CFG_WRITES)
    off -= off % size
    value = rng.getrandbits(8 * size)
    return f"write{WIDTH[size]} {base + off:#x} {value:#x}"


def round_commands(rng, length):
    setup = [f"writel {XHCI_CFG + 0x10:#x} {fidelity.BAR:#x}", f"writel {XHCI_CFG + 0x14:#x} 0",
             f"writew {XHCI_CFG + 0x04:#x} 0x6"]
    ops = [pl011_op(rng) if rng.random() < 0.5 else cfg_op(rng) for _ in range(length)]
    return setup + ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qom", required=True)
    parser.add_argument("--qemu", default=shutil.which("qemu-system-aarch64"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--length", type=int, default=400)
    args = parser.parse_args()
    if not args.qemu:
        print("fuzz-fidelity: skipped: qemu-system-aarch64 is not installed")
        return 0
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"fuzz-fidelity: seed {seed}, {args.seconds:.0f} s, {args.length} accesses a round")
    deadline = time.monotonic() + args.seconds
    rounds = reads = differ = 0
    shown = 0
    by_address = {}
    while time.monotonic() < deadline:
        round_seed = seed + rounds
        rng = random.Random(round_seed)
        commands = round_commands(rng, args.length)
        devices = fidelity.XHCI
        qemu, _ = fidelity.run(args.qemu, fidelity.side_args("qemu", devices), commands)
        qom, _ = fidelity.run(args.qom, fidelity.side_args("qom", devices), commands)
        for index, (command, a, b) in enumerate(zip(commands, qemu, qom)):
            reads += fidelity.is_read(command)
            if a != b:
                differ += 1
                where = command.split(" ")[1]
                by_address[where] = by_address.get(where, 0) + 1
                if shown < 20:
                    shown += 1
                    print(f"  DIFFERS round seed {round_seed}, access {index}: {command}: "
                          f"qemu `{a}` qom `{b}`")
        rounds += 1
    print(f"fuzz-fidelity: {rounds} rounds, {reads} reads compared, {differ} differ")
    for where, count in sorted(by_address.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {count} differing reads at {where}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

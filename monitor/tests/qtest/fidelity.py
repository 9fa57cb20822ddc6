#!/usr/bin/env python3
"""Differential test: the same qtest script against QEMU 7.2 and `qom`.

Each section starts a fresh QEMU and a fresh `qom` on the same board, sends
both the same qtest commands (QEMU's test protocol, `-qtest stdio`), and
compares every read's answer. A differing read fails the run unless it is
listed in EXPECTED with its reason; each EXPECTED entry is also a row of
the "Differences from QEMU" table in book/src/fidelity.md.

Usage: fidelity.py --qom PATH [--qemu PATH] [--verbose]
Exit status: 0 if every difference is expected, 1 otherwise, 0 with a
printed reason when QEMU is not installed (nothing to compare with).
"""

import argparse
import re
import shutil
import subprocess
import sys

UART = 0x0900_0000
# QEMU 7.2's virt puts its ECAM at 0x4010000000 (highmem=on, the
# default); both sides run with their defaults, and qom's -M
# virt,highmem=off (0x3f000000, as QEMU's) is checked by its own tests.
ECAM = 0x40_1000_0000
XHCI_CFG = ECAM + (1 << 15)  # 00:01.0
BAR = 0x1000_0000  # start of the 32-bit PCI MMIO window on both


def side_args(side, devices, machine="virt"):
    """The command line of one side, with the board's devices."""
    if side == "qemu":
        args = ["-M", machine, "-display", "none",
                "-nodefaults", "-qtest", "stdio", "-qtest-log", "/dev/null"]
        for qemu_type, _ in devices:
            args += ["-device", qemu_type]
    else:
        args = ["-M", machine, "-accel", "qtest", "-serial", "null", "-qtest", "stdio"]
        for _, qom_type in devices:
            args += ["-device", qom_type]
    return args


# QOM paths differ (a kept difference: qom names its children, QEMU puts
# board devices under /machine/unattached): `@UART` in a command is the
# first PL011's path on each side.
PATHS = {
    "qemu": {"@UART": "/machine/unattached/device[3]"},
    "qom": {"@UART": "/machine/soc/uarts[0]"},
}


def run(binary, args, commands, side=None):
    """Sends `commands` to one side; its replies, one per command (IRQ
    notification lines are kept apart, in order)."""
    for token, path in PATHS.get(side, {}).items():
        commands = [c.replace(token, path) for c in commands]
    proc = subprocess.Popen([binary] + args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    replies, irqs = [], []
    try:
        for command in commands:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            while True:
                line = proc.stdout.readline()
                if not line:
                    err = proc.stderr.read()
                    raise RuntimeError(f"{binary} ended after {len(replies)} replies: {err.strip()}")
                line = line.rstrip("\n")
                if line.startswith("IRQ "):
                    irqs.append((len(replies), line))
                    continue
                replies.append(line)
                break
    finally:
        proc.kill()
        proc.wait()
    return replies, irqs


def is_read(command):
    word = command.split(" ")[0]
    return word in ("readb", "readw", "readl", "readq", "read", "inb", "inw", "inl")


def pl011():
    """PL011 at 0x09000000: ID registers at every width, reset values,
    masks, interrupts, transmit, narrow and wide accesses."""
    # QEMU 7.2's irq_intercept_out skips named GPIOs, and a sysbus
    # device's interrupts are named (`sysbus-irq`): QEMU reports no edges
    # for the PL011, so they cannot be compared; its RIS/MIS are. The
    # intercept itself is answered the same.
    c = ["irq_intercept_out @UART"]
    for off in range(0xFE0, 0x1000, 4):
        c.append(f"readl {UART + off:#x}")
    for off in range(0xFE0, 0x1000):
        c.append(f"readb {UART + off:#x}")
    for off in range(0xFE0, 0x1000, 2):
        c.append(f"readw {UART + off:#x}")
    regs = [0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x2C,
            0x30, 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x800, 0xF00, 0xFDC]
    for off in regs:
        c.append(f"readl {UART + off:#x}")
    # Interrupt mask, raw and masked status.
    c += [f"writel {UART + 0x38:#x} 0xffffffff", f"readl {UART + 0x38:#x}",
          f"readl {UART + 0x3C:#x}", f"readl {UART + 0x40:#x}"]
    # Transmit: TX interrupt raised, FR after.
    c += [f"writel {UART + 0x30:#x} 0x301", f"writel {UART + 0x00:#x} 0x41",
          f"readl {UART + 0x3C:#x}", f"readl {UART + 0x40:#x}", f"readl {UART + 0x18:#x}",
          f"writel {UART + 0x44:#x} 0x20", f"readl {UART + 0x3C:#x}", f"readl {UART + 0x40:#x}",
          f"writeb {UART + 0x00:#x} 0x42", f"readl {UART + 0x3C:#x}",
          f"writel {UART + 0x44:#x} 0x7ff", f"readl {UART + 0x3C:#x}"]
    # Baud rate divisors and line control: masks.
    for off, value in [(0x24, 0xFFFFFFFF), (0x28, 0xFFFFFFFF), (0x2C, 0xFFFFFFFF),
                       (0x30, 0xFFFFFFFF), (0x34, 0xFFFFFFFF), (0x48, 0xFFFFFFFF),
                       (0x20, 0xFFFFFFFF), (0x24, 0x1234), (0x28, 0x15), (0x2C, 0x70)]:
        c += [f"writel {UART + off:#x} {value:#x}", f"readl {UART + off:#x}"]
    # Read-only registers ignore writes.
    for off in (0x18, 0x3C, 0x40, 0xFE0):
        c += [f"writel {UART + off:#x} 0x5a5a", f"readl {UART + off:#x}"]
    # Narrow writes: QEMU sends them to the register at offset >> 2.
    for width, off, value in [("b", 0x31, 0x12), ("b", 0x30, 0x01), ("w", 0x32, 0x3),
                              ("w", 0x30, 0x301), ("b", 0x25, 0x7), ("b", 0x39, 0x10),
                              ("w", 0x3A, 0x1)]:
        c += [f"write{width} {UART + off:#x} {value:#x}", f"readl {UART + (off & ~3):#x}",
              f"readb {UART + off:#x}", f"readw {UART + (off & ~1):#x}"]
    # 8-byte accesses: split in two 4-byte ones.
    c += [f"readq {UART + 0xFE0:#x}", f"readq {UART + 0x30:#x}",
          f"writeq {UART + 0x20:#x} 0x0000002200000011", f"readl {UART + 0x20:#x}",
          f"readl {UART + 0x24:#x}"]
    # Block reads and writes through the same path.
    c += [f"read {UART + 0xFE0:#x} 32", f"read {UART + 0x30:#x} 3",
          f"write {UART + 0x24:#x} 4 0x78563412", f"readl {UART + 0x24:#x}",
          f"memset {UART + 0x28:#x} 4 0xff", f"readl {UART + 0x28:#x}"]
    # Receive side empty: DR, RSR/ECR, FR.
    c += [f"readl {UART:#x}", f"readl {UART + 0x04:#x}", f"writel {UART + 0x04:#x} 0",
          f"readl {UART + 0x18:#x}"]
    return c


XHCI = [("qemu-xhci", "qemu-xhci")]


def pci_config():
    """The PCI config space of the host bridge, the xHCI and an empty slot,
    through ECAM."""
    c = []
    for func_base in (ECAM, XHCI_CFG, ECAM + (2 << 15), XHCI_CFG + (1 << 12)):
        for off in range(0, 0x100, 4):
            c.append(f"readl {func_base + off:#x}")
    for off in range(0, 0x40):
        c.append(f"readb {XHCI_CFG + off:#x}")
    for off in range(0, 0x40, 2):
        c.append(f"readw {XHCI_CFG + off:#x}")
    # Writable bits of the command register, and of the BARs (sizing).
    c += [f"writew {XHCI_CFG + 0x04:#x} 0xffff", f"readw {XHCI_CFG + 0x04:#x}",
          f"readw {XHCI_CFG + 0x06:#x}", f"writew {XHCI_CFG + 0x04:#x} 0x0"]
    for off in range(0x10, 0x28, 4):
        c += [f"writel {XHCI_CFG + off:#x} 0xffffffff", f"readl {XHCI_CFG + off:#x}"]
    c += [f"writel {XHCI_CFG + 0x30:#x} 0xffffffff", f"readl {XHCI_CFG + 0x30:#x}"]
    for off, value in [(0x0C, 0xFFFFFFFF), (0x3C, 0xFFFFFFFF), (0x00, 0), (0x08, 0),
                       (0x2C, 0xFFFFFFFF)]:
        c += [f"writel {XHCI_CFG + off:#x} {value:#x}", f"readl {XHCI_CFG + off:#x}"]
    # The host bridge's own writable bits.
    c += [f"writew {ECAM + 0x04:#x} 0xffff", f"readw {ECAM + 0x04:#x}",
          f"writel {ECAM + 0x10:#x} 0xffffffff", f"readl {ECAM + 0x10:#x}"]
    return c


ROOT_PORT = [("pcie-root-port,id=rp0,bus=pcie.0,chassis=1",) * 2,
             ("qemu-xhci,bus=rp0,id=usb0",) * 2]
RP_CFG = ECAM + (1 << 15)  # 00:01.0
BEHIND = ECAM + (1 << 20)  # 01:00.0 once the port's secondary bus is 1


def root_port():
    """A pcie-root-port with qemu-xhci behind it: the port's type-1 header
    and capabilities, the device unreachable until the secondary bus
    number is programmed, then its header at bus 1."""
    c = [f"readl {RP_CFG + off:#x}" for off in range(0, 0x100, 4)]
    c += [f"readb {RP_CFG + off:#x}" for off in (0x0E, 0x18, 0x19, 0x1A, 0x34)]
    c += [f"readl {BEHIND:#x}"]
    c += [f"writel {RP_CFG + 0x18:#x} 0x10100", f"readl {RP_CFG + 0x18:#x}"]
    c += [f"readl {BEHIND + off:#x}" for off in range(0, 0x40, 4)]
    c += [f"readl {BEHIND + (1 << 15):#x}", f"readl {ECAM + (2 << 20):#x}"]
    return c


def xhci_regs():
    """xHCI capability, operational, runtime and port registers once BAR 0
    is programmed and memory decoding enabled, as firmware would."""
    c = [f"writel {XHCI_CFG + 0x10:#x} {BAR:#x}", f"writel {XHCI_CFG + 0x14:#x} 0",
         f"writew {XHCI_CFG + 0x04:#x} 0x6", f"readl {XHCI_CFG + 0x10:#x}",
         f"readl {XHCI_CFG + 0x14:#x}"]
    for off in range(0, 0x20, 4):
        c.append(f"readl {BAR + off:#x}")
    c += [f"readb {BAR:#x}", f"readw {BAR + 2:#x}"]
    op = BAR + 0x40
    for off in range(0, 0x40, 4):
        c.append(f"readl {op + off:#x}")
    # Port registers (PORTSC, PORTPMSC, PORTLI, PORTHLPMC) of 8 ports.
    for port in range(8):
        for off in range(0, 0x10, 4):
            c.append(f"readl {op + 0x400 + port * 0x10 + off:#x}")
    # Runtime registers and the first interrupter; doorbells.
    for off in range(0, 0x40, 4):
        c.append(f"readl {BAR + 0x1000 + off:#x}")
    for off in range(0, 0x10, 4):
        c.append(f"readl {BAR + 0x2000 + off:#x}")
    # Extended capabilities (supported protocols).
    for off in range(0x20, 0x60, 4):
        c.append(f"readl {BAR + off:#x}")
    # Run, then halt: USBSTS follows.
    c += [f"writel {op:#x} 0x1", f"readl {op + 4:#x}", f"readl {op:#x}",
          f"writel {op:#x} 0x0", f"readl {op + 4:#x}",
          f"writel {op:#x} 0x2", f"readl {op:#x}", f"readl {op + 4:#x}",
          f"writel {op + 0x38:#x} 0xffffffff", f"readl {op + 0x38:#x}",
          f"writel {op + 0x14:#x} 0xffffffff", f"readl {op + 0x14:#x}"]
    # Memory decoding off: the BAR stops answering.
    c += [f"writew {XHCI_CFG + 0x04:#x} 0x0", f"readl {BAR:#x}"]
    return c


def memory_map():
    """Addresses where neither board has a device, and where only one
    has: unassigned reads answer 0 on QEMU's virt."""
    c = []
    # 0x3f000000 is the ECAM window only with highmem=off: nothing there.
    for addr in (0x0B00_0000, 0x0905_0000, 0x0900_1000, 0x0800_0000 - 8, 0x0A00_4000,
                 0x0E00_0000 - 8, 0x3EFF_FFF0, 0x3F00_0000, 0x3F00_8000):
        for width in "bwlq":
            c.append(f"read{width} {addr:#x}")
    # Inside the PCI MMIO and I/O windows, where no BAR answers: a master
    # abort, all ones.
    for addr in (0x2000_0000, 0x3EFE_FFF8, 0x3EFF_0100, 0x3EFF_FFF8, 0x80_0000_0000,
                 0xFF_FFFF_FFF8):
        for width in "bwlq":
            c.append(f"read{width} {addr:#x}")
    # qom's second UART and SP804s, where QEMU's virt has nothing or its
    # platform bus; RAM, which qom's virt has none of (expected).
    for addr in (0x0904_0FE0, 0x0C00_0FE0, 0x4000_0000):
        c.append(f"readl {addr:#x}")
    c += ["write 0x0b000000 4 0x01020304", "read 0x0b000000 4", "memset 0x0b000000 4 0xff"]
    return c


def ecam_low():
    """`-M virt,highmem=off`: ECAM at 0x3f000000 with 16 buses, nothing at
    the high window nor in the 64-bit MMIO one."""
    low = 0x3F00_0000
    c = []
    for base in (low, low + (1 << 15), low + (2 << 15)):
        for off in range(0, 0x40, 4):
            c.append(f"readl {base + off:#x}")
    # Bus 15 is the last (0x40000000, past it, is QEMU's RAM).
    c += [f"readl {low + (15 << 20):#x}",
          f"readl {ECAM:#x}", f"readl {ECAM + (1 << 15):#x}", f"readl {0x80_0000_0000:#x}"]
    return c


# (name, devices, script, machine)
SECTIONS = [
    ("memory-map", [], memory_map, "virt"),
    ("pl011", [], pl011, "virt"),
    ("pci-config", XHCI, pci_config, "virt"),
    ("xhci-regs", XHCI, xhci_regs, "virt"),
    ("root-port", ROOT_PORT, root_port, "virt"),
    ("ecam-low", XHCI, ecam_low, "virt,highmem=off"),
]

# Why qom answers differently, one entry per row of book/src/fidelity.md's
# "Differences from QEMU" table.
REASONS = {
    "virt-map-extra": "qom's virt has a second PL011 at 0x09040000 and SP804 timers at "
                      "0x0c000000, where QEMU's has nothing (secure UART, off) or its "
                      "platform bus: the SoC example has them",
    "virt-no-ram": "qom's virt has no RAM (no CPU: the monitor drives its devices); QEMU's "
                   "starts at 0x40000000 (with the device tree there)",
    "pl011-baud-masks": "IBRD keeps 16 bits and FBRD 6, as the PL011 TRM and later QEMU releases do; "
                        "QEMU 7.2 stores all 32",
    "pl011-loopback": "CR.LBE loopback (modem outputs seen as modem status, so FR and the "
                      "modem interrupts follow CR) as later QEMU releases do; QEMU 7.2 has no loopback",
    "bars-at-plug": "qom's virt has no firmware: plugging assigns BAR 0 and enables I/O, "
                    "memory and bus mastering; QEMU leaves both to firmware or the guest",
    "hciversion-narrow": "a 2-byte read of HCIVERSION at 0x2 answers 0x0100 (xHCI 5.3.2); "
                         "QEMU 7.2 widens it to a 4-byte read at offset 2, no register, 0",
    "mfindex-time": "MFINDEX counts virtual time; Debian's QEMU has no qtest accelerator, "
                    "so its clock follows the host's and MFINDEX has moved by the read",
    "hotpluggable-root-bus": "qom's device_add plugs onto the root bus, so a hot-pluggable "
                             "function reports hotpluggable; QEMU's pcie.0 takes no hot-plug "
                             "(issue #22: root ports)",
    "no-bus-objects": "qom has no bus objects, so parent_bus names none; QEMU's links the "
                      "device to /machine/unattached/device[N]/pcie.0",
}

# (section, command regex, QEMU's answer regex, qom's answer regex, reason):
# a differing read is expected only if an entry matches all four.
ANY = r".*"
EXPECTED = [
    ("memory-map", r"readl 0x(9040fe0|c000fe0)", r"OK 0x0000000000000000", ANY,
     "virt-map-extra"),
    ("memory-map", r"readl 0x40000000", ANY, r"OK 0x0000000000000000", "virt-no-ram"),
    ("pl011", r"readl 0x9000024", r"OK 0x00000000(ffffffff|12345678)",
     r"OK 0x0000000000(00ffff|005678)", "pl011-baud-masks"),
    ("pl011", r"readl 0x9000028", r"OK 0x00000000ffffffff", r"OK 0x000000000000003f",
     "pl011-baud-masks"),
    ("pl011", r"readl 0x9000018", r"OK 0x0000000000000090", r"OK 0x0000000000000197",
     "pl011-loopback"),
    ("pl011", r"readl 0x90000(3c|40)", r"OK 0x0000000000000000", r"OK 0x000000000000000f",
     "pl011-loopback"),
    ("pci-config", r"readl 0x4010008004", r"OK 0x0000000000100000", r"OK 0x0000000000100007",
     "bars-at-plug"),
    ("pci-config", r"read[bw] 0x4010008004", r"OK 0x0000000000000000", r"OK 0x0000000000000007",
     "bars-at-plug"),
    ("pci-config", r"readl 0x4010008010", r"OK 0x0000000000000004", r"OK 0x0000000010000004",
     "bars-at-plug"),
    ("pci-config", r"readb 0x4010008013", r"OK 0x0000000000000000", r"OK 0x0000000000000010",
     "bars-at-plug"),
    ("pci-config", r"readw 0x4010008012", r"OK 0x0000000000000000", r"OK 0x0000000000001000",
     "bars-at-plug"),
    ("root-port", r"readl 0x4010(008|100)004", r"OK 0x0000000000100000",
     r"OK 0x0000000000100007", "bars-at-plug"),
    ("root-port", r"readl 0x4010008010", r"OK 0x0000000000000000", r"OK 0x0000000010000000",
     "bars-at-plug"),
    ("root-port", r"readl 0x4010100010", r"OK 0x0000000000000004", r"OK 0x0000000010004004",
     "bars-at-plug"),
    ("xhci-regs", r"readw 0x10000002", r"OK 0x0000000000000000", r"OK 0x0000000000000100",
     "hciversion-narrow"),
    ("xhci-regs", r"readl 0x10001000", ANY, ANY, "mfindex-time"),
    ("ecam-low", r"readl 0x3f008004", r"OK 0x0000000000100000", r"OK 0x0000000000100007",
     "bars-at-plug"),
    ("ecam-low", r"readl 0x3f008010", r"OK 0x0000000000000004", r"OK 0x0000000010000004",
     "bars-at-plug"),
    ("hmp", r"info pci", r" +BAR0: 64 bit memory at 0xffffffffffffffff \[0x00003ffe\]\.",
     r" +BAR0: 64 bit memory at 0x10000000 \[0x10003fff\]\.", "bars-at-plug"),
    ("hmp", r"xp /4wx 0x4010008000", r"0000004010008000: 0x000d1b36 0x00100000 .*",
     r"0000004010008000: 0x000d1b36 0x00100007 .*", "bars-at-plug"),
    ("hmp", r"info qtree", r" +bar 0: mem at 0xffffffffffffffff \[0x3ffe\]",
     r" +bar 0: mem at 0x10000000 \[0x10003fff\]", "bars-at-plug"),
    ("hmp", r"qom-get /machine/peripheral/usb0 hotpluggable", "false", "true",
     "hotpluggable-root-bus"),
    ("hmp", r"qom-get /machine/peripheral/usb0 parent_bus",
     r'"/machine/unattached/device\[\d+\]/pcie.0"', '""', "no-bus-objects"),
]


def expected_reason(section, command, qemu, qom):
    """The reason key of the EXPECTED entry matching this difference."""
    for name, cmd, a, b, reason in EXPECTED:
        if (name == section and re.fullmatch(cmd, command) and re.fullmatch(a, qemu)
                and re.fullmatch(b, qom)):
            return reason
    return None


# HMP commands compared line by line (QEMU through QMP's
# human-monitor-command, qom through -c), with qemu-xhci,id=usb0 plugged:
# `info pci` and `xp` in QEMU's /FMT syntax at every format and size.
HMP_DEVICES = ["-device", "qemu-xhci,id=usb0"]
HMP_COMMANDS = [
    "info pci",
    f"xp /4wx {UART + 0xFE0:#x}", f"xp /8bx {UART + 0xFE0:#x}", f"xp /2hd {UART + 0xFE0:#x}",
    f"xp /3wu {UART + 0xFE0:#x}", f"xp /2go {UART + 0xFE0:#x}", f"xp /5wx {UART:#x}",
    f"xp /2c {UART + 0xFE0:#x}", f"xp /10bx {UART + 0xFE0:#x}", f"xp /4wx {ECAM:#x}",
    f"xp /4wx {XHCI_CFG:#x}", f"xp /2gx {XHCI_CFG + 0x30:#x}", f"xp /4wx {0x0B00_0000:#x}",
    "qom-get /machine/peripheral/usb0 type", "qom-get /machine/peripheral/usb0 p2",
    "qom-get /machine highmem",
] + [f"qom-get /machine/peripheral/usb0 {name}" for name in (
    "addr", "legacy-addr", "realized", "hotplugged", "hotpluggable", "parent_bus", "romfile",
    "romsize", "rombar", "multifunction", "failover_pair_id", "acpi-index",
    "x-pcie-extcap-init", "x-pcie-lnksta-dllla", "streams")] + [
    "qom-get /machine/peripheral/usb0/xhci-core type", "info qtree",
]


def qtree_pci(lines):
    """`info qtree` cut to what both device sets share: the main system
    bus's header, the PCI host bridge's dev line and its bus with every
    function on it (QEMU's other system-bus devices, and the host's own
    properties and regions, have no counterpart in qom's virt)."""
    out = lines[:2]
    for i, line in enumerate(lines):
        if line.startswith("    bus: pcie.0"):
            out += [line for line in lines[:i] if line.startswith("  dev: gpex-pcihost")]
            out.append(line)
            for rest in lines[i + 1:]:
                if len(rest) - len(rest.lstrip()) <= 4:
                    break
                out.append(rest)
            break
    return out


# Commands whose output is cut before the line-by-line comparison.
HMP_CUTS = {"info qtree": qtree_pci}


def hmp_qemu(qemu, commands):
    """Each command's output lines from QEMU, through QMP."""
    import json
    proc = subprocess.Popen([qemu, "-M", "virt", "-display", "none", "-nodefaults",
                             "-qmp", "stdio"] + HMP_DEVICES,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def reply():
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{qemu} ended: {proc.stderr.read().strip()}")
            message = json.loads(line)
            if "return" in message or "error" in message:
                return message

    try:
        proc.stdout.readline()  # the greeting
        proc.stdin.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
        proc.stdin.flush()
        reply()
        outputs = []
        for command in commands:
            proc.stdin.write(json.dumps({"execute": "human-monitor-command",
                                         "arguments": {"command-line": command}}) + "\n")
            proc.stdin.flush()
            outputs.append(reply().get("return", "").replace("\r", "").splitlines())
    finally:
        proc.kill()
        proc.wait()
    return outputs


def hmp_qom(qom, commands):
    """Each command's output lines from qom, one `-c` run each."""
    outputs = []
    for command in commands:
        out = subprocess.run([qom, "-M", "virt", "-serial", "null"] + HMP_DEVICES + ["-c", command],
                             capture_output=True, text=True, check=False)
        outputs.append((out.stdout + out.stderr).splitlines())
    return outputs


def compare_hmp(qemu, qom, verbose, used):
    """HMP lines compared, differing, and unexpected differences."""
    lines = differ = unexpected = 0
    for command, a_lines, b_lines in zip(HMP_COMMANDS, hmp_qemu(qemu, HMP_COMMANDS),
                                         hmp_qom(qom, HMP_COMMANDS)):
        if command in HMP_CUTS:
            a_lines, b_lines = HMP_CUTS[command](a_lines), HMP_CUTS[command](b_lines)
        width = max(len(a_lines), len(b_lines))
        a_lines += [""] * (width - len(a_lines))
        b_lines += [""] * (width - len(b_lines))
        for a, b in zip(a_lines, b_lines):
            lines += 1
            if a == b:
                continue
            differ += 1
            reason = expected_reason("hmp", command, a, b)
            if reason:
                used.add(reason)
                if verbose:
                    print(f"  expected hmp: {command}: qemu `{a}` qom `{b}` ({REASONS[reason]})")
            else:
                unexpected += 1
                print(f"  DIFFERS hmp: {command}: qemu `{a}` qom `{b}`")
    return lines, differ, unexpected


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qom", required=True)
    parser.add_argument("--qemu", default=shutil.which("qemu-system-aarch64"))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not args.qemu:
        print("fidelity: skipped: qemu-system-aarch64 is not installed "
              "(apt-get install qemu-system-arm to compare)")
        return 0
    unexpected = 0
    used = set()
    total = [0, 0, 0]
    for name, devices, script, machine in SECTIONS:
        commands = script()
        qemu, qemu_irq = run(args.qemu, side_args("qemu", devices, machine), commands, "qemu")
        qom, qom_irq = run(args.qom, side_args("qom", devices, machine), commands, "qom")
        reads = differ = expected = 0
        for command, a, b in zip(commands, qemu, qom):
            if not is_read(command) and a == b:
                continue
            reads += is_read(command)
            if a == b:
                continue
            reason = expected_reason(name, command, a, b)
            if reason:
                expected += 1
                used.add(reason)
                if args.verbose:
                    print(f"  expected {name}: {command}: qemu `{a}` qom `{b}` ({REASONS[reason]})")
            else:
                differ += 1
                print(f"  DIFFERS {name}: {command}: qemu `{a}` qom `{b}`")
        if qemu_irq and qemu_irq != qom_irq:
            print(f"  DIFFERS {name}: IRQ lines: qemu {qemu_irq} qom {qom_irq}")
            differ += 1
        print(f"fidelity {name}: {reads} reads compared, {differ + expected} differ "
              f"({expected} expected, {differ} unexpected)")
        total[0] += reads
        total[1] += differ + expected
        total[2] += expected
        unexpected += differ
    print(f"fidelity total: {total[0]} reads compared, {total[1]} differ "
          f"({total[2]} expected, {unexpected} unexpected)")
    lines, differ, hmp_unexpected = compare_hmp(args.qemu, args.qom, args.verbose, used)
    print(f"fidelity hmp: {lines} HMP lines compared, {differ} differ "
          f"({differ - hmp_unexpected} expected, {hmp_unexpected} unexpected)")
    unexpected += hmp_unexpected
    for reason in sorted(set(REASONS) - used):
        # A difference that no longer shows must leave the list and the book.
        print(f"  note: expected difference `{reason}` did not occur: remove it if fixed")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""qom-get round trips per second from one `qemu.qmp` client, against
`qom` and against QEMU in the same run, and their ratio (qom / QEMU;
above 1.0 means qom answers faster). A measurement, not a test: it
prints figures and fails only if a target cannot be driven.

    target/qmp-venv/bin/python monitor/tests/qmp/roundtrip.py \\
        [--qom target/release/qom] [--qemu qemu-system-x86_64] [--rounds 9]

Both machines run at once, each with one client. After a warm-up of
200 calls each, the script alternates one-second windows of sequential
`qom-get /machine type` calls (each awaits its answer before the next is
sent: latency, not pipelining) between qom and QEMU, so that load from
elsewhere on the machine falls on both alike; it reports the median
rate of each and the median of the per-round ratios.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time

from qemu.qmp import QMPClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Target  # noqa: E402

ARGS = {"path": "/machine", "property": "type"}


async def window(qmp, seconds):
    """qom-get calls per second over one window."""
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await qmp.execute("qom-get", ARGS)
        calls += 1
    return calls / (time.perf_counter() - start)


async def measure(qom_binary, qemu_binary, rounds):
    targets = [Target("qom", qom_binary), Target("qemu", qemu_binary)]
    try:
        clients = []
        for t in targets:
            qmp = QMPClient(f"bench-{t.kind}")
            await qmp.connect(t.socket)
            for _ in range(200):
                await qmp.execute("qom-get", ARGS)
            clients.append(qmp)
        rates = ([], [])
        for _ in range(rounds):
            for i, qmp in enumerate(clients):
                rates[i].append(await window(qmp, 1.0))
        for qmp in clients:
            await qmp.disconnect()
        return rates
    finally:
        for t in targets:
            t.stop()


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    release = os.path.join(root, "target", "release", "qom")
    debug = os.path.join(root, "target", "debug", "qom")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qom", default=release if os.path.exists(release) else debug)
    parser.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if not args.qemu:
        sys.exit("qemu-system-x86_64 not found: install qemu-system-x86 or give --qemu")
    qom, qemu = asyncio.run(measure(args.qom, args.qemu, args.rounds))
    ratios = [a / b for a, b in zip(qom, qemu)]
    print(f"qom  ({args.qom}): {statistics.median(qom):9.0f} qom-get/s (median of {args.rounds} one-second windows)")
    print(f"QEMU ({args.qemu}): {statistics.median(qemu):9.0f} qom-get/s")
    print(f"ratio qom/QEMU: {statistics.median(ratios):.2f} (median of the rounds; "
          f"range {min(ratios):.2f}-{max(ratios):.2f}; goal >= 1.0)")


if __name__ == "__main__":
    main()

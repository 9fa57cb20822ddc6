#!/usr/bin/env python3
"""qom-get round trips per second from one `qemu.qmp` client, against
`qom` and against QEMU in the same run, and their ratio (qom / QEMU;
above 1.0 means qom answers faster). A measurement, not a test: it
prints figures and fails only if a target cannot be driven.

    target/qmp-venv/bin/python monitor/tests/qmp/roundtrip.py \\
        [--qom target/release/qom] [--qemu qemu-system-x86_64] [--seconds 5]

Each target gets a warm-up of 200 calls, then as many sequential
`qom-get /machine type` calls as fit in the time given (each awaits its
answer before the next is sent: latency, not pipelining); the best of
three runs is reported.
"""

import argparse
import asyncio
import os
import shutil
import sys
import time

from qemu.qmp import QMPClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Target  # noqa: E402

ARGS = {"path": "/machine", "property": "type"}


async def rate(kind, binary, seconds):
    t = Target(kind, binary)
    try:
        qmp = QMPClient("bench")
        await qmp.connect(t.socket)
        for _ in range(200):
            await qmp.execute("qom-get", ARGS)
        best = 0.0
        for _ in range(3):
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 3:
                await qmp.execute("qom-get", ARGS)
                calls += 1
            best = max(best, calls / (time.perf_counter() - start))
        await qmp.disconnect()
        return best
    finally:
        t.stop()


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    release = os.path.join(root, "target", "release", "qom")
    debug = os.path.join(root, "target", "debug", "qom")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qom", default=release if os.path.exists(release) else debug)
    parser.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    if not args.qemu:
        sys.exit("qemu-system-x86_64 not found: install qemu-system-x86 or give --qemu")
    qom = asyncio.run(rate("qom", args.qom, args.seconds))
    qemu = asyncio.run(rate("qemu", args.qemu, args.seconds))
    print(f"qom  ({args.qom}): {qom:9.0f} qom-get/s")
    print(f"QEMU ({args.qemu}): {qemu:9.0f} qom-get/s")
    print(f"ratio qom/QEMU: {qom / qemu:.2f} (goal >= 1.0)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Live migration of the same running guest, qom against QEMU, on one
machine in one run: total time, downtime and stream size, and their
ratios (qom / QEMU; at or below 1.0 means qom is as fast or as small).
A measurement, not a test: it prints figures and fails only if a target
cannot be driven.

    python3 scripts/migration_vs_qemu.py --qom target/release/qom \\
        --guest PATH/counter.bin [--qemu qemu-system-x86_64] [--rounds 5]

The guest is test-support's `counter` (it counts, printing on the debug
console at port 0x402, and writes one of 1,024 pages of RAM per count),
with 128 MiB of RAM, under KVM. Each round starts a destination with
`-incoming unix:...`, then a source, lets it count for a second, and
migrates it with QMP's `migrate` to the destination, polling
`query-migrate` until it completes; qom and QEMU alternate round by
round, so that load from elsewhere falls on both alike. Each side's
`total-time`, `downtime` and `ram.transferred` (the bytes sent) are its
own report; the script prints every round, the medians and the ratios of
the medians. The snapshot sizes (`migrate file:` for qom, `exec:cat >`
for QEMU 7.2, which has no `file:`) are printed too.

The two `downtime` reports do not measure the same span: QEMU's ends
when the source has sent its last byte, qom's when the destination has
loaded the stream and answered. So the script also measures the
downtime the guest shows, the same way on both: each process writes
the guest's debug console into a FIFO that the script reads, stamping
each line on arrival; the gap between the source's last output and the
destination's first is the time the guest made no progress (the guest
prints about every millisecond, so the gap includes up to one interval).
The downtime ratio is the ratio of those gaps.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


class Qmp:
    """A minimal QMP client on a Unix socket."""

    def __init__(self, path, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rw")
        self.file.readline()  # greeting
        self.execute("qmp_capabilities")

    def execute(self, command, arguments=None):
        message = {"execute": command}
        if arguments is not None:
            message["arguments"] = arguments
        self.file.write(json.dumps(message) + "\n")
        self.file.flush()
        while True:
            answer = json.loads(self.file.readline())
            if "return" in answer:
                return answer["return"]
            if "error" in answer:
                raise RuntimeError(f"{command}: {answer['error']['desc']}")

    def close(self):
        self.sock.close()


class ConsoleReader:
    """Reads a FIFO the guest's debug console goes to, stamping each
    line with the time it arrived."""

    def __init__(self, path):
        os.mkfifo(path)
        # Opened before the writer, without blocking, so that the
        # writer's open does not wait; reads block once it has opened.
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(self.fd, True)
        self.lines = []
        # The bytes after the last newline, and when bytes first and last
        # came: a migration can stop the source in the middle of a line,
        # which the destination finishes.
        self.pending = b""
        self.first_data = None
        self.last_data = None
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            data = os.read(self.fd, 65536)
            now = time.monotonic()
            if not data:
                if self.done:
                    return
                time.sleep(0.001)  # no writer yet, or it has gone
                continue
            if self.first_data is None:
                self.first_data = now
            self.last_data = now
            *complete, self.pending = (self.pending + data).split(b"\n")
            self.lines.extend((now, line) for line in complete)

    def close(self):
        self.done = True
        self.thread.join(timeout=5)
        os.close(self.fd)


def visible_downtime(src, dst):
    """The gap, in ms, between the source's last console output and the
    destination's first, checking that the destination goes on where the
    source stopped (the count is the line's hex value; a line the source
    began is finished by the destination)."""
    if not src.lines or not dst.lines:
        raise RuntimeError("no console output to measure the gap on")
    last = src.lines[-1][1]
    first = src.pending + dst.lines[0][1]
    if int(first, 16) != int(last, 16) + 1:
        raise RuntimeError(f"the count does not go on: {last!r} then {first!r}")
    return (dst.first_data - src.last_data) * 1000


def command(kind, binary, guest, work, name, extra, log=None):
    log = log or os.path.join(work, f"{name}.log")
    qmp = os.path.join(work, f"{name}.qmp")
    if kind == "qom":
        args = [binary, "-M", "pc", "-accel", "kvm", "-m", "128", "-bios", guest,
                "-debugcon", f"file:{log}", "-qmp", f"unix:{qmp},server=on,wait=off"]
    else:
        args = [binary, "-M", "pc", "-accel", "kvm", "-m", "128", "-bios", guest,
                "-display", "none", "-nodefaults", "-serial", "null",
                "-chardev", f"file,id=dc,path={log}",
                "-device", "isa-debugcon,iobase=0x402,chardev=dc",
                "-qmp", f"unix:{qmp},server=on,wait=off"]
    return args + extra, qmp


def wait_completed(qmp, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = qmp.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return info
        if status in ("failed", "cancelled"):
            raise RuntimeError(f"migration {status}: {info.get('error-desc')}")
        time.sleep(0.01)
    raise RuntimeError("migration did not complete")


def one_round(kind, binary, guest, work, index):
    sock = os.path.join(work, f"{kind}{index}.sock")
    fifos = [os.path.join(work, f"{kind}{index}-{side}.fifo") for side in ("src", "dst")]
    dst_args, dst_qmp = command(kind, binary, guest, work, f"{kind}{index}-dst",
                                ["-incoming", f"unix:{sock}"], fifos[1])
    src_args, src_qmp = command(kind, binary, guest, work, f"{kind}{index}-src", [], fifos[0])
    procs = []
    consoles = [ConsoleReader(fifo) for fifo in fifos]
    try:
        # qom's destination takes QMP once loaded; QEMU's at once.
        procs.append(subprocess.Popen(dst_args, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if time.time() > deadline:
                raise RuntimeError(f"{kind}: the destination does not listen")
            time.sleep(0.01)
        procs.append(subprocess.Popen(src_args, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        src = Qmp(src_qmp)
        if kind == "qemu":
            src.execute("cont")
        time.sleep(1.0)
        src.execute("migrate", {"uri": f"unix:{sock}"})
        info = wait_completed(src)
        src.close()
        # The destination's first lines, then the gap between the two.
        deadline = time.time() + 10
        while len(consoles[1].lines) < 10 and time.time() < deadline:
            time.sleep(0.01)
        gap = visible_downtime(*consoles)
        return (info["total-time"], info["downtime"], info["ram"]["transferred"], gap)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for console in consoles:
            console.close()


def snapshot_size(kind, binary, guest, work):
    path = os.path.join(work, f"{kind}.snap")
    args, qmp_path = command(kind, binary, guest, work, f"{kind}-snap", [])
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        qmp = Qmp(qmp_path)
        time.sleep(1.0)
        uri = f"file:{path}" if kind == "qom" else f"exec:cat > {path}"
        qmp.execute("migrate", {"uri": uri})
        wait_completed(qmp)
        qmp.close()
        return os.path.getsize(path)
    finally:
        proc.kill()
        proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--qom", default="target/release/qom")
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--guest", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is not usable")
        return 0
    binaries = {"qom": args.qom, "qemu": args.qemu}
    results = {"qom": [], "qemu": []}
    with tempfile.TemporaryDirectory(prefix="qom-mig-bench-") as work:
        for index in range(args.rounds):
            for kind in ("qom", "qemu") if index % 2 == 0 else ("qemu", "qom"):
                total, down, sent, gap = one_round(kind, binaries[kind], args.guest, work, index)
                results[kind].append((total, down, sent, gap))
                print(f"round {index + 1} {kind:4}: total {total:5} ms, downtime {down:4} ms "
                      f"(reported), {gap:6.2f} ms (guest-visible gap), "
                      f"stream {sent / 1024:8.0f} KiB")
        sizes = {k: snapshot_size(k, binaries[k], args.guest, work) for k in binaries}
    print()
    medians = {k: [statistics.median(r[i] for r in v) for i in range(4)]
               for k, v in results.items()}
    for label, i in (("total time", 0), ("downtime", 3), ("reported", 1)):
        q, e = medians["qom"][i], medians["qemu"][i]
        ratio = q / e if e else float("inf")
        print(f"{label:12} qom {q:8.2f} ms   QEMU {e:8.2f} ms   ratio {ratio:.2f}")
    q, e = medians["qom"][2], medians["qemu"][2]
    print(f"{'stream size':12} qom {q / 1024:8.0f} KiB  QEMU {e / 1024:8.0f} KiB  ratio {q / e:.2f}")
    q, e = sizes["qom"], sizes["qemu"]
    print(f"{'snapshot':12} qom {q / 1024:8.0f} KiB  QEMU {e / 1024:8.0f} KiB  ratio {q / e:.2f}")
    print("(downtime: the guest-visible gap, measured alike on both; reported: each "
          "side's own downtime, which QEMU ends at its last byte sent and qom at the "
          "destination's answer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

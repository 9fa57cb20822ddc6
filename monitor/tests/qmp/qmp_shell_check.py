#!/usr/bin/env python3
"""`qmp-shell` (from the same qemu.qmp package) against `qom`, through a
pseudo-terminal, as a person would use it: the prompt, commands typed as
`name key=value`, answers printed, a device plugged and deleted with its
DEVICE_DELETED event shown.

    python3 qmp_shell_check.py --qom target/debug/qom --qmp-shell target/qmp-venv/bin/qmp-shell
"""

import argparse
import os
import pty
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Target, qom_binary  # noqa: E402


class Terminal:
    def __init__(self, args):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.seen = b""

    def expect(self, text, timeout=20):
        """Reads until `text` appears after what earlier expects matched."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} did not appear; the terminal shows:\n{self.seen.decode(errors='replace')}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:
                    break
        if text.encode() not in self.seen:
            raise AssertionError(f"{text!r} did not appear:\n{self.seen.decode(errors='replace')}")
        at = self.seen.index(text.encode()) + len(text)
        before, self.seen = self.seen[:at], self.seen[at:]
        return before.decode(errors="replace")

    def send(self, line):
        os.write(self.master, line.encode() + b"\r")

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.master)


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qom", default=qom_binary(root))
    parser.add_argument("--qmp-shell", default=os.path.join(root, "target", "qmp-venv", "bin", "qmp-shell"))
    args = parser.parse_args()
    target = Target("qom", args.qom)
    shell = Terminal([args.qmp_shell, target.socket])
    transcript = []
    try:
        transcript.append(shell.expect("(QEMU) "))
        steps = [
            ("query-version", '"package": "qom '),
            ("qom-get path=/machine property=type", '"return": "'),
            ("device_add driver=xhci-pci id=shell0", '"return": {}'),
            ("qom-get path=/machine/peripheral/shell0 property=num-ports", '"return": 4'),
            ("device_del id=shell0", '"return": {}'),
            # An empty line shows the events received meanwhile.
            ("", "'event': 'DEVICE_DELETED'"),
            ("qom-get path=/machine/peripheral/shell0 property=type", '"DeviceNotFound"'),
            ("no-such-command", '"CommandNotFound"'),
        ]
        for line, expected in steps:
            shell.send(line)
            transcript.append(shell.expect(expected))
            transcript.append(shell.expect("(QEMU) "))
        print("".join(transcript).replace("\r", ""))
        print("qmp-shell: every step showed what it should")
        return 0
    except AssertionError as e:
        print(f"FAIL qmp-shell: {e}")
        return 1
    finally:
        shell.close()
        target.stop()


if __name__ == "__main__":
    sys.exit(main())

"""The machines the QMP scripts drive: `qom` (the binary of this
repository) or QEMU (`qemu-system-x86_64`), each started with
`-qmp unix:PATH,server=on,wait=off` and stopped when done."""

import os
import shutil
import subprocess
import tempfile
import time


def kvm_usable():
    """Whether /dev/kvm can be opened (guests run under KVM)."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False


class Target:
    """A running machine with a QMP socket.

    `kind` is "qom" or "qemu"; `guest` says whether a guest runs under
    KVM, so that stop/cont/query-status have a run state to act on.
    """

    def __init__(self, kind, binary, extra=()):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="qmp-")
        self.socket = os.path.join(self.dir, "qmp.sock")
        qmp = f"unix:{self.socket},server=on,wait=off"
        self.guest = kvm_usable() or kind == "qemu"
        self.drive = None
        if kind == "qom":
            args = [binary]
            args += ["-M", "pc", "-accel", "kvm", "-S"] if kvm_usable() else ["-M", "virt"]
            # A drive for usb-storage, so that it joins the hot-plug checks.
            image = os.path.join(self.dir, "disk.img")
            with open(image, "wb") as f:
                f.truncate(1 << 20)
            self.drive = "qmpdisk"
            args += ["-drive", f"file={image},if=none,id={self.drive},format=raw"]
            args += ["-serial", "null", "-qmp", qmp, *extra]
        else:
            accel = "kvm" if kvm_usable() else "tcg"
            args = [binary, "-M", "pc", "-accel", accel, "-S", "-display", "none",
                    "-serial", "null", "-monitor", "none", "-no-shutdown",
                    "-qmp", qmp, *extra]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.socket):
            if self.process.poll() is not None:
                raise RuntimeError(f"{args} exited: {self.process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not listen on {self.socket}")
            time.sleep(0.01)

    # The names the two give the same things.
    @property
    def xhci(self):
        return "xhci-pci" if self.kind == "qom" else "qemu-xhci"

    @property
    def machine_type_suffix(self):
        return "-machine"

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def qom_binary(root):
    """The qom binary CI built (debug), or the one given in $QOM."""
    return os.environ.get("QOM", os.path.join(root, "target", "debug", "qom"))


def qemu_binary():
    return shutil.which("qemu-system-x86_64")

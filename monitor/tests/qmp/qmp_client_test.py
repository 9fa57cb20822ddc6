#!/usr/bin/env python3
"""QMP checked with QEMU's own client library, `qemu.qmp`, against `qom`
and, with --qemu, against QEMU itself, so the two can be compared.

Each check connects (the library reads the greeting and negotiates),
runs commands and checks values. Where qom and QEMU differ on purpose,
the check says so next to the expectation (`if t.kind == "qemu"`); the
book's QMP chapter lists those differences.

    python3 qmp_client_test.py --qom target/debug/qom [--qemu qemu-system-x86_64]

Exit status 0 when every check passed on every target.
"""

import argparse
import asyncio
import os
import sys
import traceback

from qemu.qmp import QMPClient, ExecuteError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Target, qom_binary  # noqa: E402

EVENT_TIMEOUT = 5

COMMANDS = [
    "query-version", "query-commands", "query-status", "stop", "cont",
    "system_reset", "quit", "qom-list", "qom-get", "qom-set",
    "qom-list-types", "qom-list-properties", "device-list-properties",
    "device_add", "device_del", "query-pci", "human-monitor-command",
    "qmp_capabilities", "query-qmp-schema", "migrate", "query-migrate",
    "migrate_cancel",
]


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


async def error_of(qmp, command, arguments=None):
    """(class, desc) of a command that must fail."""
    try:
        value = await qmp.execute(command, arguments)
    except ExecuteError as e:
        return e.error.error.class_, e.error.error.desc
    raise CheckFailed(f"{command} {arguments} succeeded with {value}")


async def next_event(qmp, name):
    """The next event called `name`, others skipped."""
    async def wait():
        while True:
            event = await qmp.events.get()
            if event["event"] == name:
                return event
    return await asyncio.wait_for(wait(), EVENT_TIMEOUT)


async def connect(t, name="test"):
    qmp = QMPClient(name)
    await qmp.connect(t.socket)
    return qmp


# Each check takes the target and a connected client.

async def greeting_and_version(t, qmp):
    greeting = qmp.greeting.QMP
    version = await qmp.execute("query-version")
    check(version["qemu"] == greeting.version["qemu"], f"{version} vs {greeting}")
    check(all(isinstance(version["qemu"][k], int) for k in ("major", "minor", "micro")), version)
    check(isinstance(version["package"], str), version)
    # QEMU offers out-of-band execution; qom offers no capability.
    expected_caps = ["oob"] if t.kind == "qemu" else []
    check(list(greeting.capabilities) == expected_caps, greeting.capabilities)


async def commands_and_schema(t, qmp):
    names = {c["name"] for c in await qmp.execute("query-commands")}
    missing = [c for c in COMMANDS if c not in names]
    check(not missing, f"missing from query-commands: {missing}")
    schema = await qmp.execute("query-qmp-schema")
    by_name = {e["name"]: e for e in schema}
    for command in COMMANDS:
        entry = by_name.get(command)
        check(entry is not None and entry["meta-type"] == "command", f"{command}: {entry}")
        args = by_name[entry["arg-type"]]
        check(args["meta-type"] == "object", args)
    qom_get_args = [m["name"] for m in by_name[by_name["qom-get"]["arg-type"]]["members"]]
    check(qom_get_args == ["path", "property"], qom_get_args)
    check(by_name["DEVICE_DELETED"]["meta-type"] == "event", by_name["DEVICE_DELETED"])


async def run_state(t, qmp):
    if not t.guest:
        # qom without KVM drives devices with no guest: the run-state
        # commands say so.
        cls, desc = await error_of(qmp, "query-status")
        check(cls == "GenericError" and "no guest" in desc, desc)
        for command in ("stop", "cont", "system_reset"):
            cls, desc = await error_of(qmp, command)
            check(cls == "GenericError" and "no guest" in desc, desc)
        return
    status = await qmp.execute("query-status")
    check(status["status"] == "prelaunch" and status["running"] is False, status)
    await qmp.execute("cont")
    await next_event(qmp, "RESUME")
    check((await qmp.execute("query-status"))["status"] == "running", "running after cont")
    await qmp.execute("stop")
    await next_event(qmp, "STOP")
    status = await qmp.execute("query-status")
    check(status == {"status": "paused", "running": False, "singlestep": False}, status)
    await qmp.execute("system_reset")
    reset = await next_event(qmp, "RESET")
    check(reset["data"] == {"guest": False, "reason": "host-qmp-system-reset"}, reset)
    check("timestamp" in reset and reset["timestamp"]["seconds"] > 0, reset)


async def qom_tree(t, qmp):
    entries = await qmp.execute("qom-list", {"path": "/machine"})
    by_name = {e["name"]: e["type"] for e in entries}
    check(by_name.get("peripheral") == "child<container>", by_name)
    check(by_name.get("type") == "string", by_name)
    machine_type = await qmp.execute("qom-get", {"path": "/machine", "property": "type"})
    check(machine_type.endswith("-machine"), machine_type)
    cls, desc = await error_of(qmp, "qom-get", {"path": "/machine/nowhere", "property": "type"})
    check(cls == "DeviceNotFound", (cls, desc))
    cls, desc = await error_of(qmp, "qom-get", {"path": "/machine", "property": "no-such-prop"})
    check(cls == "GenericError" and "no-such-prop" in desc, (cls, desc))
    cls, desc = await error_of(qmp, "qom-set", {"path": "/machine", "property": "type", "value": "x"})
    check(cls == "GenericError", (cls, desc))


async def types_and_properties(t, qmp):
    concrete = {x["name"]: x for x in await qmp.execute("qom-list-types", {"implements": "pci-device"})}
    check(t.xhci in concrete and "pci-device" not in concrete, sorted(concrete)[:20])
    check(all("abstract" not in x for x in concrete.values()), "abstract types without abstract=true")
    everything = {x["name"]: x for x in await qmp.execute(
        "qom-list-types", {"implements": "pci-device", "abstract": True})}
    check(everything.get("pci-device", {}).get("abstract") is True, everything.get("pci-device"))
    for command in ("qom-list-properties", "device-list-properties"):
        props = await qmp.execute(command, {"typename": t.xhci})
        check(props and all(isinstance(p["name"], str) and isinstance(p["type"], str) for p in props), props)
    cls, desc = await error_of(qmp, "device-list-properties", {"typename": "no-such-type"})
    check(cls == "DeviceNotFound", (cls, desc))
    cls, desc = await error_of(qmp, "device-list-properties", {"typename": "pci-device"})
    check(cls == "GenericError" and "abstract" in desc, (cls, desc))


def device_args(t, kind):
    """What a type needs besides its driver and id: usb-storage a drive."""
    return {"drive": t.drive} if kind == "usb-storage" and t.drive else {}


async def hotpluggable_types(t, qmp):
    """The types device_del can remove: qom asks the machine (every
    concrete device type is plugged; those the machine refuses, and those
    it refuses to unplug, are left out); for QEMU, the two USB
    controllers the issue compares."""
    if t.kind == "qemu":
        return ["qemu-xhci", "piix3-usb-uhci"]
    kinds = await qmp.execute("qom-list-types", {"implements": "device"})
    found = []
    for kind in sorted(k["name"] for k in kinds):
        probe = f"probe-{kind}"
        try:
            await qmp.execute("device_add", {"driver": kind, "id": probe, **device_args(t, kind)})
        except ExecuteError:
            continue
        try:
            await qmp.execute("device_del", {"id": probe})
            await next_event(qmp, "DEVICE_DELETED")
            found.append(kind)
        except ExecuteError as e:
            check("not hot-pluggable" in e.error.error.desc, e.error.error.desc)
    return found


async def device_add_and_del(t, qmp):
    if t.guest and (await qmp.execute("query-status"))["status"] != "running":
        # Unplug under a running guest: QEMU completes a PCI unplug only
        # once the guest runs (ACPI hotplug), and qom must not need one.
        await qmp.execute("cont")
        await next_event(qmp, "RESUME")
    types = await hotpluggable_types(t, qmp)
    check(t.xhci in types, types)
    pci_kinds = set(types) if t.kind == "qemu" else {
        k["name"] for k in await qmp.execute("qom-list-types", {"implements": "pci-device"})}
    report = []
    for kind in types:
        dev_id = f"hp-{kind}"
        await qmp.execute("device_add", {"driver": kind, "id": dev_id, **device_args(t, kind)})
        path = f"/machine/peripheral/{dev_id}"
        check(await qmp.execute("qom-get", {"path": path, "property": "type"}) == kind, kind)
        if kind in pci_kinds:
            pci = await qmp.execute("query-pci")
            qdev = [d for d in pci[0]["devices"] if d["qdev_id"] in (dev_id, path)]
            check(len(qdev) == 1, f"{kind} in query-pci: {pci}")
        else:
            # A USB device: on a USB bus, listed by `info usb` with its id.
            usb = await qmp.execute("human-monitor-command", {"command-line": "info usb"})
            check(f"ID: {dev_id}" in usb, f"{kind} in info usb: {usb}")
        await qmp.execute("device_del", {"id": dev_id})
        try:
            event = await next_event(qmp, "DEVICE_DELETED")
        except asyncio.TimeoutError:
            event = None
        if event is None and t.kind == "qemu":
            # QEMU's PCI unplug is a request to the guest (ACPI eject),
            # which SeaBIOS without an OS never answers; a reset
            # completes it. qom unplugs at once (no guest handshake).
            await qmp.execute("system_reset")
            try:
                event = await next_event(qmp, "DEVICE_DELETED")
                report.append(f"{kind}: QEMU sent DEVICE_DELETED only after system_reset")
            except asyncio.TimeoutError:
                event = None
        if event is None and t.kind == "qemu" and kind == "qemu-xhci":
            # QEMU 7.2 removes it from the tree but never sends the event
            # (the bug the issue describes): recorded, not fatal.
            try:
                await qmp.execute("qom-get", {"path": path, "property": "type"})
                where = "still in the tree"
            except ExecuteError:
                where = "gone from the tree"
            report.append(f"{kind}: no DEVICE_DELETED within {EVENT_TIMEOUT}s of device_del"
                          f" and system_reset, {where} (QEMU 7.2)")
            continue
        check(event is not None, f"{kind}: no DEVICE_DELETED")
        check(event["data"] == {"device": dev_id, "path": path}, event)
        cls, _ = await error_of(qmp, "qom-get", {"path": path, "property": "type"})
        check(cls == "DeviceNotFound", f"{kind} still in the tree after DEVICE_DELETED")
        report.append(f"{kind}: DEVICE_DELETED {event['data']}")
    # Without an id: device_del by QOM path, and the event has no `device`.
    kind = "piix3-usb-uhci" if t.kind == "qemu" else t.xhci
    await qmp.execute("device_add", {"driver": kind})
    anon = await qmp.execute("qom-list", {"path": "/machine/peripheral-anon"})
    names = [e["name"] for e in anon if e["type"] == f"child<{kind}>"]
    check(len(names) == 1, anon)
    path = f"/machine/peripheral-anon/{names[0]}"
    await qmp.execute("device_del", {"id": path})
    try:
        event = await next_event(qmp, "DEVICE_DELETED")
    except asyncio.TimeoutError:
        await qmp.execute("system_reset")  # QEMU: see above
        event = await next_event(qmp, "DEVICE_DELETED")
    check(event["data"] == {"path": path}, event)
    report.append(f"{kind} without an id, deleted by path: DEVICE_DELETED {event['data']}")
    cls, desc = await error_of(qmp, "device_del", {"id": "no-such-device"})
    check(cls == "DeviceNotFound", (cls, desc))
    cls, desc = await error_of(qmp, "device_add", {"driver": "no-such-type"})
    check(cls == "GenericError", (cls, desc))
    cls, desc = await error_of(qmp, "device_add", {"driver": t.xhci, "bus": "pci.7"})
    check(cls == "GenericError" and "pci.7" in desc, (cls, desc))
    return report


async def pci_and_hmp(t, qmp):
    pci = await qmp.execute("query-pci")
    check(pci[0]["bus"] == 0 and pci[0]["devices"], pci)
    for device in pci[0]["devices"]:
        check({"slot", "function", "class_info", "id", "regions", "qdev_id"} <= set(device), device)
    text = await qmp.execute("human-monitor-command", {"command-line": "info pci"})
    check("Bus  0, device" in text, text)
    failed = await qmp.execute("human-monitor-command", {"command-line": "no-such-hmp-command"})
    check("no-such-hmp-command" in failed, failed)


async def two_clients_negotiate_each(t, qmp):
    if t.kind == "qemu":
        # QEMU's -qmp socket serves one client at a time (a second one
        # waits, without a greeting, until the first disconnects).
        return ["one client at a time on QEMU's socket: not applicable"]
    other = await connect(t, "second")
    check(await other.execute("query-version") == await qmp.execute("query-version"), "same server")
    await other.disconnect()


async def quit_sends_shutdown(t, qmp):
    # QEMU serves one client per socket: the client that quits watches.
    watcher = await connect(t, "watcher") if t.kind == "qom" else qmp
    try:
        await qmp.execute("quit")
    except (EOFError, ConnectionError):
        pass  # the server may close before the answer is read
    event = await next_event(watcher, "SHUTDOWN")
    check(event["data"] == {"guest": False, "reason": "host-qmp-quit"}, event)
    for client in {qmp, watcher}:
        try:
            await client.disconnect()
        except EOFError:
            pass  # both QEMU and qom close the connection after quit
    t.process.wait(timeout=10)
    check(t.process.returncode == 0, f"exit status {t.process.returncode}")


CHECKS = [
    greeting_and_version, commands_and_schema, run_state, qom_tree,
    types_and_properties, device_add_and_del, pci_and_hmp,
    two_clients_negotiate_each, quit_sends_shutdown,
]


async def run_target(kind, binary):
    t = Target(kind, binary)
    failures = 0
    try:
        qmp = await connect(t)
        for check_fn in CHECKS:
            try:
                notes = await check_fn(t, qmp)
                print(f"  ok    {kind:4} {check_fn.__name__}")
                for note in notes or []:
                    print(f"          {note}")
            except Exception as e:  # report each check, go on with the next
                failures += 1
                print(f"  FAIL  {kind:4} {check_fn.__name__}: {type(e).__name__}: {e}")
                traceback.print_exc(limit=3)
    finally:
        t.stop()
    return failures


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qom", default=qom_binary(root))
    parser.add_argument("--qemu", help="also run against this QEMU binary")
    args = parser.parse_args()
    failures = asyncio.run(run_target("qom", args.qom))
    if args.qemu:
        failures += asyncio.run(run_target("qemu", args.qemu))
    print(f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

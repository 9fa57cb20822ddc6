#!/usr/bin/env python3
"""Draws book/src/pictures/exit-path.svg: a guest access from the vCPU
thread's exit to the device, and what a hot-unplug on the monitor's thread
does meanwhile (the "Running a guest" chapter).

Run from anywhere:  python3 book/pictures/exit-path.py

The steps are the table below, not drawn by hand; each names the code
that does it. Only the Python standard library is used; the output is
deterministic.
"""

from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parent.parent / "src" / "pictures" / "exit-path.svg"

INK = "#222222"
MUTED = "#555555"
VCPU = "#cfe2f3"
DISPATCH = "#d9ead3"
DEVICE = "#fce5cd"
UNPLUG = "#f4cccc"
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
MONO = "font-family='DejaVu Sans Mono, Menlo, Consolas, monospace'"

# (title, code, detail, colour): the exit path, top to bottom.
EXIT_PATH = [
    ("vCPU exit", "qom_vmm vcpu.rs: step, port_io",
     "KVM_RUN returns KVM_EXIT_IO (port) or KVM_EXIT_MMIO", VCPU),
    ("address space", "AddressSpace::read / write",
     "port I/O: the board's system_io; MMIO: system memory", DISPATCH),
    ("flat view", "FlatView::lookup",
     "binary search of the current view; its guard keeps every region in it", DISPATCH),
    ("owner reference", "region.container::<Object>()",
     "try-acquire: a strong reference, or None once the owner finalizes", DISPATCH),
    ("device", "MmioOps::mmio_read / mmio_write",
     "the register model, against live state; then the reference drops", DEVICE),
]

# (step, detail): device_del on the monitor's thread, meanwhile.
UNPLUG_STEPS = [
    ("unplug", "the bus detaches the function and unmaps its BARs"),
    ("unrealize", "its regions are disabled: accesses become unassigned"),
    ("unparent", "out of the tree; the view is re-rendered"),
    ("finalize", "at the last reference: an access in flight holds one"),
]

WIDTH, HEIGHT = 940, 470


def svg():
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}'>",
        "<title>The exit path: vCPU exit, flat view, owner reference, device</title>",
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
        f"markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{INK}'/>"
        "</marker></defs>",
        f"<rect x='0' y='0' width='{WIDTH}' height='{HEIGHT}' fill='#ffffff'/>",
    ]

    def text(x, y, s, size=13, anchor="start", mono=False, bold=False, color=INK):
        family = MONO if mono else FONT
        weight = " font-weight='bold'" if bold else ""
        out.append(
            f"<text x='{x}' y='{y}' font-size='{size}' text-anchor='{anchor}' "
            f"fill='{color}' {family}{weight}>{escape(s)}</text>"
        )

    def arrow(x1, y1, x2, y2, dash=False):
        d = " stroke-dasharray='5,3'" if dash else ""
        out.append(
            f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{INK}' "
            f"stroke-width='1.4' marker-end='url(#arrow)'{d}/>"
        )

    text(80, 30, "vCPU thread: a guest access", size=15, bold=True)
    box_x, box_w, box_h, gap = 80, 470, 62, 20
    for i, (title, code, detail, colour) in enumerate(EXIT_PATH):
        y = 48 + i * (box_h + gap)
        out.append(
            f"<rect x='{box_x}' y='{y}' width='{box_w}' height='{box_h}' rx='6' "
            f"fill='{colour}' stroke='{INK}' stroke-width='1.2'/>"
        )
        text(box_x + 12, y + 20, title, bold=True)
        text(box_x + box_w - 12, y + 20, code, size=11, anchor="end", mono=True, color=MUTED)
        text(box_x + 12, y + 44, detail, size=12)
        if i + 1 < len(EXIT_PATH):
            arrow(box_x + box_w / 2, y + box_h, box_x + box_w / 2, y + box_h + gap)
    # Back into the guest.
    last = 48 + (len(EXIT_PATH) - 1) * (box_h + gap)
    out.append(
        f"<path d='M{box_x},{last + box_h / 2} h-14 V{48 + box_h / 2} h14' fill='none' "
        f"stroke='{INK}' stroke-width='1.4' marker-end='url(#arrow)'/>"
    )
    mid = (48 + last + box_h) / 2
    out.append(
        f"<text x='{box_x - 22}' y='{mid}' font-size='11' text-anchor='middle' fill='{MUTED}' "
        f"{FONT} transform='rotate(-90 {box_x - 22} {mid})'>KVM_RUN again</text>"
    )

    ux, uw, uh, ugap = 640, 270, 62, 20
    text(ux, 30, "monitor thread: device_del usb0", size=15, bold=True)
    for i, (step, detail) in enumerate(UNPLUG_STEPS):
        y = 48 + i * (uh + ugap)
        out.append(
            f"<rect x='{ux}' y='{y}' width='{uw}' height='{uh}' rx='6' fill='{UNPLUG}' "
            f"stroke='{INK}' stroke-width='1.2'/>"
        )
        text(ux + 12, y + 20, step, bold=True)
        words, line, lines = detail.split(), "", []
        for word in words:
            if len(line) + len(word) > 36:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        for j, l in enumerate(lines):
            text(ux + 12, y + 38 + 16 * j, l, size=12)
        if i + 1 < len(UNPLUG_STEPS):
            arrow(ux + uw / 2, y + uh, ux + uw / 2, y + uh + ugap)
    # What the unplug does to the vCPU's path.
    arrow(ux, 48 + uh + ugap + uh / 2, box_x + box_w + 4, 48 + 3 * (box_h + gap) + box_h / 2,
          dash=True)
    label_y = 48 + 3 * (box_h + gap) - 30
    text(612, label_y, "disabled:", size=11, anchor="middle", color=MUTED)
    text(612, label_y + 14, "unassigned", size=11, anchor="middle", color=MUTED)
    text(80, HEIGHT - 12,
         "No lock is shared between the two threads on the access path; "
         "a view or reference already taken keeps what it names alive.",
         size=12, color=MUTED)
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    OUT.write_text(svg())
    print(f"wrote {OUT}")

#!/bin/sh
# Regenerates the guide's object-graph pictures in book/src/pictures/ from
# the project's own output: the `qom` monitor's `graph` command, run on the
# `virt` machine. Run from anywhere:  sh book/pictures/make-graphs.sh
#
# `graph PATH --dot FILE` writes the subtree as Graphviz DOT
# (qom_rt::graph_dot); `graph PATH --svg FILE` lays the same DOT out as SVG
# with the layout-rs crate, so no system Graphviz is needed. Edge colours
# in the SVGs: embedded black, owned purple, dynamic blue, link green
# dashed, storage orange dashed. The output is deterministic: rerunning
# this script on an unchanged tree changes no file.
#
# The other pictures (header, layout, states, timeline) are drawn by
# make.py from its data tables.
set -eu
cd "$(dirname "$0")/../.."

qom() {
    cargo run -q --release -p qom-monitor --bin qom -- "$@"
}

# The whole machine, with a hot-plugged xHCI controller (embedded
# controller state) and a PIIX3 south bridge (owned UHCI companion).
qom -device xhci-pci,id=usb0 -device piix3,id=sb \
    -c "graph /machine --svg book/src/pictures/machine.svg"

# One xhci-pci device's subtree: as DOT, and laid out as SVG.
qom -device xhci-pci,id=usb0 \
    -c "graph /machine/peripheral/usb0 --dot book/src/pictures/xhci-pci.dot; graph /machine/peripheral/usb0 --svg book/src/pictures/xhci-pci.svg"

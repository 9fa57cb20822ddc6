#!/usr/bin/env bash
# Reruns every figure the book and RELIABILITY.md quote and writes them,
# with the commit and the date they were measured at, to
# figures/FIGURES.md (the docs quote that file, nothing else).
#
#   scripts/figures.sh              # everything below (about an hour)
#   scripts/figures.sh bench model  # only some sections
#
# Sections: instructions bench model stress seed-race loom guests usb qmp
# migration fuzz (guests, usb, qmp and migration need /dev/kvm or QEMU as .ci/guests.sh and
# .ci/qmp.sh install them). Timings move with the machine's load (the benches print ranges and
# alternate the two sides of every ratio in one process); instruction
# counts (callgrind) do not. FUZZ_SECONDS (default 600) sets each fuzz
# target's run; CI_LOG=path adds the step timings of a `.ci/run` log.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
out=figures/FIGURES.md
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(instructions bench model stress seed-race loom guests usb qmp migration fuzz)
tmp=$(mktemp)
commit=$(git rev-parse --short HEAD)
dirty=$(git status --porcelain --untracked-files=no | grep -q . && echo " (with uncommitted changes)" || true)

# Each section carries the commit, the date and the load it was measured
# at; a run of some sections replaces those in figures/FIGURES.md and
# keeps the others as they were.
section() {
    local when="${3:-on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)}"
    printf '\n## %s\n\nMeasured at commit `%s`%s %s.\n\n`%s`\n\n```text\n' \
        "$1" "$commit" "$dirty" "$when" "$2" >> "$tmp"
}
end_section() {
    printf '```\n' >> "$tmp"
}
want() {
    local s
    for s in "${sections[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

if want instructions; then
    step "instructions (callgrind)"
    cargo build --release -p qom-rt --example instructions
    section "Instructions per routine (callgrind, 100,000 iterations)" \
        "valgrind --tool=callgrind --toggle-collect='instructions::routine_*' target/release/examples/instructions ROUTINE 100000"
    for routine in owned-clone-drop arc-clone-drop create-drop-16 box-16 create-drop-leaf; do
        valgrind --tool=callgrind --toggle-collect='instructions::routine_*' \
            --callgrind-out-file=/dev/null target/release/examples/instructions "$routine" 100000 2>&1 |
            awk -v r="$routine" '/Collected/ { gsub(",", "", $4); printf "%-18s %7.1f instructions\n", r, $4 / 100000 }' >> "$tmp"
    done
    end_section
fi

if want bench; then
    for bench in "qom-rt alone" "qom-rt runtime" "qom-rt tree" "qom-device-benches dispatch"; do
        set -- $bench
        step "cargo bench -p $1 --bench $2"
        section "Benchmark \`$2\` of \`$1\`" "cargo bench -p $1 --bench $2"
        cargo bench -p "$1" --bench "$2" 2>/dev/null | grep -vE '^(Benchmarking|Gnuplot|Found|  [0-9]+ \(|WARNING)' | grep -v '^\s*$' >> "$tmp"
        end_section
    done
fi

if want model; then
    step "model long run"
    section "Model-based test, long run" \
        "PROPTEST_CASES=20000 cargo test --release -p qom-rt --test model -- --nocapture"
    PROPTEST_CASES=20000 cargo test --release -p qom-rt --test model -- --nocapture 2>&1 |
        grep -E '^model:|test result' >> "$tmp"
    end_section
fi

if want stress; then
    step "adversarial races, 1,000,000 rounds each"
    section "Adversarial races, native stress (0 violations required)" \
        "ADVERSARIAL_ROUNDS=1000000 cargo test --release -p qom-rt --test adversarial races -- --nocapture --test-threads=1"
    ADVERSARIAL_ROUNDS=1000000 cargo test --release -p qom-rt --test adversarial races -- --nocapture --test-threads=1 2>&1 |
        grep -E 'rounds|test result' >> "$tmp"
    end_section
fi

if want seed-race; then
    step "seed race"
    section "Seed race (xHCI BAR 0 reads racing hot-unplug)" \
        "SEED_RACE_ROUNDS=10000 cargo test --release -p qom-devices --test seed_race -- --nocapture"
    SEED_RACE_ROUNDS=10000 cargo test --release -p qom-devices --test seed_race -- --nocapture 2>&1 |
        grep -E 'seed race|rounds|test result' >> "$tmp"
    end_section
fi

if want loom; then
    step "loom"
    section "loom models" 'RUSTFLAGS="--cfg loom" cargo test -p qom-rt --test loom --release'
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p qom-rt --test loom --release 2>&1 |
        grep -E '^test |test result' >> "$tmp"
    end_section
fi

if want guests; then
    step "guests"
    section "Guests under KVM: qom against QEMU" "cargo bench -p qom-vmm --bench guest"
    cargo bench -p qom-vmm --bench guest 2>&1 | grep -vE '^\s*(Compiling|Finished|Running)' >> "$tmp" || true
    end_section
fi

if want usb && [ -f vmm/benches/usb_storage.rs ]; then
    step "usb"
    section "USB disk read throughput: qom against QEMU" "cargo bench -p qom-vmm --bench usb_storage"
    cargo bench -p qom-vmm --bench usb_storage 2>&1 | grep -vE '^\s*(Compiling|Finished|Running)' >> "$tmp" || true
    end_section
fi

if want qmp; then
    step "qmp"
    cargo build --release -p qom-monitor --bin qom
    [ -x target/qmp-venv/bin/python ] || python3 -m venv target/qmp-venv
    target/qmp-venv/bin/pip install --quiet 'qemu.qmp==0.0.6'
    section "QMP qom-get round trips: qom against QEMU" \
        "target/qmp-venv/bin/python monitor/tests/qmp/roundtrip.py --qom target/release/qom --qemu qemu-system-x86_64"
    target/qmp-venv/bin/python monitor/tests/qmp/roundtrip.py --qom target/release/qom \
        --qemu qemu-system-x86_64 >> "$tmp" 2>&1 || true
    end_section
fi

if want migration; then
    step "migration"
    cargo build --release -p qom-monitor --bin qom
    # Apart: `--bin qom` would leave out a package without binaries.
    cargo build --release -p qom-test-support
    guest=$(ls -t target/release/build/qom-test-support-*/out/counter.bin | head -1)
    section "Live migration of a running 128 MiB guest: qom against QEMU" \
        "python3 scripts/migration_vs_qemu.py --qom target/release/qom --guest counter.bin --qemu qemu-system-x86_64 --rounds 9"
    python3 scripts/migration_vs_qemu.py --qom target/release/qom --guest "$guest" \
        --qemu qemu-system-x86_64 --rounds 9 >> "$tmp" 2>&1 || true
    end_section
fi

if want fuzz; then
    seconds=${FUZZ_SECONDS:-600}
    step "fuzz, $seconds s per target"
    install_nightly
    cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    section "Fuzzing, $seconds s per target" "cd fuzz && cargo +$NIGHTLY fuzz run TARGET ../target/fuzz-corpus/TARGET corpus/TARGET -- -max_total_time=$seconds"
    for target in $(cd fuzz && cargo "+$NIGHTLY" fuzz list); do
        # New inputs go to a scratch directory; the checked-in corpus
        # only seeds the run (tests replay it and expect it unchanged).
        mkdir -p "target/fuzz-corpus/$target"
        (cd fuzz && cargo "+$NIGHTLY" fuzz run "$target" "../target/fuzz-corpus/$target" "corpus/$target" \
            -- -max_total_time="$seconds" 2>&1) |
            grep -E '^Done [0-9]+ runs|crash|panicked' | sed "s/^/$target: /" >> "$tmp" || true
    done
    end_section
fi

if [ -n "${CI_LOG:-}" ]; then
    # The run's own commit, which `.ci/run` prints first.
    commit=$(sed -n 's/^CI at commit \([0-9a-f]*\).*/\1/p' "$CI_LOG" | head -1)
    dirty=""
    section "CI (\`bash .ci/run\` on a clean clone)" "bash .ci/run > \$CI_LOG" \
        "on $(date -u -r "$CI_LOG" '+%Y-%m-%d') (the run's first line below gives its machine and load)"
    grep -m1 '^CI at commit' "$CI_LOG" >> "$tmp" || true
    sed -n '/^=== done/,$p' "$CI_LOG" | tail -n +2 >> "$tmp"
    end_section
fi

python3 - "$out" "$tmp" <<'MERGE'
import re, sys
out, new = sys.argv[1], sys.argv[2]
def sections(text):
    parts = re.split(r"(?m)^(?=## )", text)
    return parts[0], {p.split("\n", 1)[0]: p for p in parts[1:]}, [p.split("\n", 1)[0] for p in parts[1:]]
try:
    _, old, order = sections(open(out).read())
except FileNotFoundError:
    old, order = {}, []
_, fresh, fresh_order = sections(open(new).read())
old.update(fresh)
order += [t for t in fresh_order if t not in order]
head = ("# Figures\n\nWritten by `scripts/figures.sh` (`scripts/figures.sh SECTION...` reruns\n"
        "some); each section says the commit, the date and the load it was\n"
        "measured at. The docs quote this file and nothing else.\n\n")
open(out, "w").write(head + "".join(old[t].rstrip("\n") + "\n\n" for t in order).rstrip("\n") + "\n")
MERGE
rm -f "$tmp"
echo "wrote $out"

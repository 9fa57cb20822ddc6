#!/usr/bin/env bash
# Fails when the workspace compiles more than one major version of `syn`
# (normal, build and dev dependencies alike, as `cargo tree -d` counts
# them): every proc-macro crate on the second version is compiled again,
# and the build's critical path is syn plus the macros.
#
# Where a second version came from before: darling 0.21 (qom-derive), the
# `attributes` feature of tracing (turned off in the root manifest), and
# half >= 2.7, which criterion reaches through ciborium and which needs
# zerocopy's derive (Cargo.lock holds half at 2.6, where zerocopy is
# optional; a `cargo update` that moves it shows up here).
set -euo pipefail
cd "$(dirname "$0")/.."

versions=$(cargo tree --workspace --edges normal,build,dev --prefix none --format '{p}' |
    sed -n 's/^syn v\([0-9.]*\).*/\1/p' | sort -uV)
majors=$(cut -d. -f1 <<<"$versions" | sort -u)
if [ "$(wc -l <<<"$majors")" -le 1 ]; then
    echo "one syn: $(echo $versions)"
    exit 0
fi
echo "error: $(wc -l <<<"$majors") major versions of syn are compiled:" >&2
for version in $versions; do
    echo >&2
    cargo tree --workspace --edges normal,build,dev --invert "syn@$version" >&2
done
exit 1

#!/usr/bin/env bash
# AddressSanitizer (with LeakSanitizer) and ThreadSanitizer on the tests of
# the runtime and the device library, the hot-unplug race included. The
# standard library is rebuilt with the sanitizer (-Zbuild-std), so a race
# or a leak inside it is reported too. Fails if a sanitizer cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
install_nightly

target=x86_64-unknown-linux-gnu
for sanitizer in address thread; do
    step "sanitizer: $sanitizer"
    RUSTFLAGS="-Zsanitizer=$sanitizer" RUSTDOCFLAGS="-Zsanitizer=$sanitizer" \
        CARGO_TARGET_DIR="target/$sanitizer" \
        cargo "+$NIGHTLY" test -Zbuild-std --target "$target" \
        -p qom-rt -p qom-devices --tests
done

# Shared by the CI scripts: `step` headers with the time, and the pinned
# nightly toolchain (Miri, the sanitizers and cargo-fuzz need one).
#
# The nightly is pinned in one place, `.ci/nightly-toolchain`. To bump it:
# pick a date whose nightly has Miri (https://rust-lang.github.io/
# rustup-components-history), write `nightly-YYYY-MM-DD` there, and run
# `.ci/run`; a date without Miri fails at the toolchain step.

step() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

NIGHTLY=$(tr -d '[:space:]' < "$(dirname "${BASH_SOURCE[0]}")/nightly-toolchain")
export NIGHTLY

# Installs the pinned nightly with Miri and the standard library's source
# (for Miri and -Zbuild-std). Fails, and with it CI, if it cannot.
install_nightly() {
    rustup toolchain install "$NIGHTLY" --profile minimal --component miri,rust-src
}

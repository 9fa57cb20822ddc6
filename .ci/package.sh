#!/usr/bin/env bash
# Packages every publishable crate of the workspace (those without
# `publish = false`) as `cargo publish` would, without uploading, and
# checks that each package carries both license files.
#
# The manifests must be complete for this: a version on every path
# dependency, a readme, a license. `cargo package` with several packages
# (cargo >= 1.90) resolves their dependencies on each other, unpublished
# yet, through a local registry overlay of the packages being made.
#
# --no-verify: building each package from its tarball again is the test
# command's job; only the packaging is checked here. --allow-dirty: CI may
# run on a tree with generated files.
set -euo pipefail
cd "$(dirname "$0")/.."

metadata=$(cargo metadata --no-deps --format-version 1)
# Where `cargo package` writes (CARGO_TARGET_DIR and config included).
packages_dir=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' <<<"$metadata")/package
# "name directory" of each publishable package (`publish = false` reads
# as an empty list of registries in the metadata).
publishable=$(python3 -c '
import json, os, sys
for package in json.load(sys.stdin)["packages"]:
    if package["publish"] != []:
        directory = os.path.relpath(os.path.dirname(package["manifest_path"]))
        print(package["name"], directory)
' <<<"$metadata")
names=$(cut -d' ' -f1 <<<"$publishable")
args=()
for name in $names; do
    args+=(-p "$name")
done
echo "packaging:" $names
cargo package --no-verify --allow-dirty "${args[@]}"

# The manifests say `MIT OR Apache-2.0`, and cargo puts only files inside
# the package directory in the package: each crate links both files from
# the root.
missing=0
while read -r name directory; do
    crate=$(ls "$packages_dir/$name"-*.crate | sort -V | tail -1)
    contents=$(tar tzf "$crate")
    for file in LICENSE-MIT LICENSE-APACHE; do
        if ! grep -q "/$file\$" <<<"$contents"; then
            echo "error: $name has no $file: ln -s ../$file $directory/$file" >&2
            missing=1
        fi
    done
done <<<"$publishable"
[ "$missing" = 0 ]
echo "packaged with both license files:" $names

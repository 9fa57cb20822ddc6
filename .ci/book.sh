#!/usr/bin/env bash
# Builds the guide with mdbook (installing it if needed) and fails on any
# warning, then checks every relative link and `#anchor` of the chapters
# against the files and the built pages (mdbook checks neither).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib.sh
step "book"
if ! command -v mdbook >/dev/null 2>&1; then
    cargo install mdbook --locked --no-default-features --features search
fi
out=$(mdbook build book 2>&1) || { echo "$out"; exit 1; }
echo "$out"
if echo "$out" | grep -qiE 'warn|error'; then
    echo "mdbook reported warnings"
    exit 1
fi
python3 - <<'PY'
import pathlib, re, sys
src = pathlib.Path("book/src")
html = pathlib.Path("book/book")
ids = {}
def anchors(page):
    """The element ids of the page built from `page` (a chapter)."""
    rel = page.resolve().relative_to(src.resolve())
    if rel not in ids:
        built = html / rel.with_suffix(".html")
        text = built.read_text() if built.exists() else ""
        ids[rel] = set(re.findall(r'id="([^"]+)"', text))
    return ids[rel]
broken = []
for md in src.rglob("*.md"):
    for target in re.findall(r"\]\(([^)\s]+)\)", md.read_text()):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        page = (md.parent / path) if path else md
        if path and not page.exists():
            broken.append(f"{md}: {target}")
        elif anchor and page.suffix == ".md" and anchor not in anchors(page):
            broken.append(f"{md}: {target} (no such heading)")
if broken:
    print("broken links in the book:", *broken, sep="\n  ")
    sys.exit(1)
print("book links ok")
PY

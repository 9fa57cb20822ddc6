//! The compile-fail and compile-pass catalogue (see `README.md`).
//!
//! Every case under `tests/ui` is one misuse with its reviewed `.stderr`;
//! its twin under `tests/pass` (same area, same name) is the fix, and is
//! built and run. Bless with `TRYBUILD=overwrite cargo test -p ui-tests`
//! on the pinned toolchain, then read the diff as a change to the user
//! interface.

use std::path::{Path, PathBuf};

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/**/*.rs");
    t.pass("tests/pass/**/*.rs");
}

/// Every compile-fail case has a twin that compiles (the fix), and every
/// pass case is the twin of a misuse: the catalogue cannot drift.
#[test]
fn every_misuse_has_a_fix() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let fail = cases(&root.join("ui"));
    let pass = cases(&root.join("pass"));
    assert!(fail.len() >= 25, "only {} compile-fail cases", fail.len());
    assert_eq!(
        fail, pass,
        "tests/ui and tests/pass must hold the same cases"
    );
    for case in &fail {
        let stderr = root.join("ui").join(case).with_extension("stderr");
        assert!(
            stderr.exists(),
            "{} has no reviewed .stderr",
            case.display()
        );
    }
}

/// The `.rs` files under `dir`, relative to it, sorted.
fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for area in std::fs::read_dir(dir).unwrap() {
        let area = area.unwrap().path();
        for file in std::fs::read_dir(&area).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "rs") {
                out.push(file.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

//! The chapter "Compile errors you will meet" (`book/src/compile-errors.md`)
//! covers the whole compile-fail catalogue of `ui-tests`.
//!
//! Every case `ui-tests/tests/ui/AREA/CASE.rs` must be named in the chapter
//! as `` `AREA/CASE` `` (in backticks, as in its index of the catalogue), so
//! that a case added to the catalogue without its section in the guide
//! fails here, with the list of every case that is missing.

use std::fs;
use std::path::Path;

/// The cases of the catalogue under `ui`, as `area/case`, sorted.
fn ui_cases(ui: &Path) -> Vec<String> {
    let mut cases = Vec::new();
    let areas = fs::read_dir(ui).unwrap_or_else(|e| panic!("reading {}: {e}", ui.display()));
    for area in areas {
        let area = area.expect("listing the ui areas").path();
        if !area.is_dir() {
            continue;
        }
        let area_name = area.file_name().unwrap().to_string_lossy().into_owned();
        let files =
            fs::read_dir(&area).unwrap_or_else(|e| panic!("reading {}: {e}", area.display()));
        for file in files {
            let file = file.expect("listing a ui area").path();
            if file.extension().is_some_and(|ext| ext == "rs") {
                let case = file.file_stem().unwrap().to_string_lossy();
                cases.push(format!("{area_name}/{case}"));
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn every_ui_case_is_in_the_compile_errors_chapter() {
    let book = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ui = book.join("../ui-tests/tests/ui");
    let chapter_path = book.join("src/compile-errors.md");
    let chapter = fs::read_to_string(&chapter_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", chapter_path.display()));

    let cases = ui_cases(&ui);
    assert!(
        !cases.is_empty(),
        "no compile-fail case found under {}",
        ui.display()
    );
    let missing: Vec<&String> = cases
        .iter()
        .filter(|case| !chapter.contains(&format!("`{case}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of the {} ui cases are not named in book/src/compile-errors.md \
         (add a section with the misuse, the message and the fix, and a row \
         to its index of the catalogue):\n  {}",
        missing.len(),
        cases.len(),
        missing
            .iter()
            .map(|case| case.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

//! Every `compile_fail` sample of the guide fails for the reason the guide
//! gives. rustdoc only checks that a `compile_fail` sample does not
//! compile (on stable it ignores the `E0xxx` code), so a sample with a
//! typo would pass; here each sample is compiled and its first error is
//! compared with the message the chapter quotes right after it, in a
//! `text` block (the message first, up to the first source excerpt).
//!
//! The samples are built as the binaries of a scratch crate that depends
//! on the workspace's crates by path, with `cargo check --keep-going`, in
//! this test's temporary directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `compile_fail` sample and the message the chapter quotes for it.
struct Sample {
    chapter: String,
    line: usize,
    code: String,
    /// The quoted message, whitespace collapsed.
    message: String,
    /// The error code of the fence (`compile_fail,E0277`), if any: the
    /// quoted message must carry it too.
    fence_code: Option<String>,
}

/// The samples of one chapter. Every `compile_fail` block must be
/// followed by a `text` block quoting its error.
fn samples(chapter: &Path) -> Vec<Sample> {
    let text = fs::read_to_string(chapter).unwrap();
    let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !(lines[i].starts_with("```rust") && lines[i].contains("compile_fail")) {
            i += 1;
            continue;
        }
        let fence_code = lines[i]
            .split(',')
            .find(|part| part.starts_with('E') && part.len() == 5)
            .map(str::to_string);
        let start = i + 1;
        let end = start + lines[start..].iter().position(|l| *l == "```").unwrap();
        let code = lines[start..end]
            .iter()
            .map(|l| unhide(l))
            .collect::<Vec<_>>()
            .join("\n");
        let quote = end + 1 + lines[end + 1..].iter().position(|l| !l.is_empty()).unwrap();
        assert_eq!(
            lines[quote], "```text",
            "{name}:{}: a compile_fail sample must be followed by a `text` block quoting its error",
            start
        );
        let message = lines[quote + 1..]
            .iter()
            .take_while(|l| !is_excerpt(l))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Sample {
            chapter: name.clone(),
            line: start,
            code,
            message: normalize(&message),
            fence_code,
        });
        i = end + 1;
    }
    out
}

/// A sample line as rustdoc compiles it: `# ` hides a line, not its code.
fn unhide(line: &str) -> &str {
    match line.trim_start() {
        "#" => "",
        trimmed => trimmed.strip_prefix("# ").map_or(line, |_| {
            let indent = line.len() - trimmed.len();
            &line[indent + 2..]
        }),
    }
}

/// Where the quoted message ends: the source excerpt or notes.
fn is_excerpt(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.starts_with('|')
        || trimmed.starts_with("-->")
        || trimmed.starts_with('=')
        || trimmed.starts_with("```")
        || trimmed.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn normalize(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The scratch crate: one binary per sample, the workspace's crates as
/// path dependencies.
fn scratch_crate(samples: &[Sample]) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = workspace.canonicalize().unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book-compile-fail");
    let bins = dir.join("src/bin");
    let _ = fs::remove_dir_all(&bins);
    fs::create_dir_all(&bins).unwrap();
    let manifest = format!(
        "[package]\nname = \"book-samples\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nqom-rt = {{ path = \"{0}/qom-rt\" }}\nqom-devices = {{ path = \"{0}/devices\" }}\n\n\
         [workspace]\n",
        workspace.display()
    );
    fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file, so the dependencies are the ones tested.
    fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for (n, sample) in samples.iter().enumerate() {
        // As rustdoc compiles it: without a `main`, the sample is the
        // body of one.
        let code = if sample.code.contains("fn main") {
            sample.code.clone()
        } else {
            format!("fn main() {{\n{}\n}}\n", sample.code)
        };
        fs::write(bins.join(format!("sample{n}.rs")), code).unwrap();
    }
    dir
}

/// The first error (`error[E0xxx]: ...` or `error: ...`) of each binary,
/// by binary name, from cargo's JSON messages.
fn first_errors(dir: &Path) -> std::collections::HashMap<String, String> {
    let output = Command::new(env!("CARGO"))
        .args(["check", "--bins", "--keep-going", "--message-format=json"])
        .args(["--quiet", "--offline"])
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("cargo runs");
    let mut errors = std::collections::HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(target) = field(line, "\"target\":{") else {
            continue;
        };
        let Some(name) = field(target, "\"name\":\"") else {
            continue;
        };
        let name = name.split('"').next().unwrap_or_default().to_string();
        // The rendered message's first line: `error[E0277]: ...`.
        let Some(rendered) = field(line, "\"rendered\":\"") else {
            continue;
        };
        let first = rendered.split("\\n").next().unwrap_or_default();
        if first.starts_with("error") && !first.starts_with("error: aborting") {
            errors.entry(name).or_insert_with(|| unescape(first));
        }
    }
    errors
}

/// The text after `key` in a JSON line (enough for cargo's messages,
/// without a JSON parser).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.find(key).map(|at| &line[at + key.len()..])
}

fn unescape(text: &str) -> String {
    text.replace("\\\"", "\"").replace("\\\\", "\\")
}

#[test]
#[cfg_attr(miri, ignore = "builds a crate with cargo")]
fn every_compile_fail_sample_fails_with_the_quoted_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut chapters: Vec<PathBuf> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    let samples: Vec<Sample> = chapters.iter().flat_map(|c| samples(c)).collect();
    assert!(samples.len() >= 60, "only {} samples found", samples.len());
    let dir = scratch_crate(&samples);
    let errors = first_errors(&dir);
    let mut wrong = Vec::new();
    for (n, sample) in samples.iter().enumerate() {
        if let Some(code) = &sample.fence_code {
            if !sample.message.starts_with(&format!("error[{code}]")) {
                wrong.push(format!(
                    "{}:{}: the fence says {code}, the quoted message `{}`",
                    sample.chapter, sample.line, sample.message
                ));
            }
        }
        let actual = errors.get(&format!("sample{n}")).map(|e| normalize(e));
        if actual.as_deref() != Some(sample.message.as_str()) {
            wrong.push(format!(
                "{}:{}:\n    quoted: {}\n    actual: {}",
                sample.chapter,
                sample.line,
                sample.message,
                actual
                    .as_deref()
                    .unwrap_or("(compiles, or no error reported)")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} compile_fail samples do not fail with the error their chapter quotes \
         (the samples are in {}):\n{}",
        wrong.len(),
        samples.len(),
        dir.join("src/bin").display(),
        wrong.join("\n")
    );
}

//! Running the monitor: `-c` commands, a script on standard input, or an
//! interactive prompt with line editing, history and completion.

use super::{Flow, Monitor, COMMANDS, INFO};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use std::io::{BufRead, Write};

/// Runs commands one after another; every failure prints one line to
/// stderr. Returns how many failed. Stops at `quit`. With `echo`, each
/// command is printed after a `(qom) ` prompt first, as in a transcript.
pub fn run_commands<'a>(
    monitor: &mut Monitor,
    lines: impl IntoIterator<Item = &'a str>,
    echo: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> usize {
    let mut failures = 0;
    for line in lines {
        let trimmed = line.trim();
        if echo && trimmed.starts_with('#') {
            let _ = writeln!(out, "{trimmed}");
        } else if echo && !trimmed.is_empty() {
            let _ = writeln!(out, "(qom) {trimmed}");
        }
        match monitor.execute(line) {
            Ok((text, flow)) => {
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                if flow == Flow::Quit {
                    break;
                }
            }
            Err(e) => {
                failures += 1;
                let _ = writeln!(err, "Error: {e}");
            }
        }
    }
    failures
}

/// Reads a script from `input` line by line.
pub fn run_script(
    monitor: &mut Monitor,
    input: impl BufRead,
    echo: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> usize {
    let lines: Vec<String> = input.lines().map_while(Result::ok).collect();
    run_commands(monitor, lines.iter().map(String::as_str), echo, out, err)
}

/// Completes command names, `info` subcommands, type names and paths.
struct Completion;

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let line = &line[..pos];
        let start = line.rfind([' ', ',']).map_or(0, |i| i + 1);
        let word = &line[start..];
        let words: Vec<&str> = line[..start].split_whitespace().collect();
        let candidates: Vec<String> = match words.as_slice() {
            [] => COMMANDS.iter().map(|c| c.name.to_string()).collect(),
            ["info"] => INFO.iter().map(|s| s.to_string()).collect(),
            ["device_add"] | ["info", "types"] => qom_rt::types()
                .iter()
                .map(|t| t.name().to_string())
                .collect(),
            _ => complete_path(word),
        };
        let pairs = candidates
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

/// Paths one level below the part of `word` up to its last `/`.
fn complete_path(word: &str) -> Vec<String> {
    let Some((dir, _)) = word.rsplit_once('/') else {
        return Vec::new();
    };
    let parent = if dir.is_empty() { "/" } else { dir };
    let Ok(object) = qom_rt::resolve_path(parent) else {
        return Vec::new();
    };
    use qom_rt::ObjectTree;
    object
        .children()
        .into_iter()
        .map(|c| format!("{dir}/{}", c.name))
        .collect()
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

/// The interactive prompt (standard input is a terminal).
pub fn run_interactive(monitor: &mut Monitor) -> rustyline::Result<()> {
    let mut editor: Editor<Completion, _> = Editor::new()?;
    editor.set_helper(Some(Completion));
    let stdout = &mut std::io::stdout();
    let stderr = &mut std::io::stderr();
    loop {
        match editor.readline("(qom) ") {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                match monitor.execute(&line) {
                    Ok((text, flow)) => {
                        let _ = stdout.write_all(text.as_bytes());
                        if flow == Flow::Quit {
                            return Ok(());
                        }
                    }
                    Err(e) => {
                        let _ = writeln!(stderr, "Error: {e}");
                    }
                }
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

//! The interactive prompt: line editing, history and Tab completion
//! (rustyline), for when standard input is a terminal.

use crate::completion::complete;
use crate::monitor::{Flow, RunLine};
use qom_devices::Machine;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use std::io::Write;
use std::sync::Arc;

/// Completes from the command table against the live machine (shared
/// with the monitor, which runs the commands).
struct Completion {
    machine: Arc<Machine>,
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, candidates) = complete(&self.machine, &line[..pos]);
        let pairs = candidates
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

/// The interactive prompt, `(qom) `, until `quit`, Ctrl-D or Ctrl-C.
/// Errors are printed and the session goes on.
pub fn run_interactive(monitor: &mut impl RunLine) -> rustyline::Result<()> {
    let mut editor: Editor<Completion, _> = Editor::new()?;
    editor.set_helper(Some(Completion {
        machine: monitor.shared_machine(),
    }));
    let stdout = &mut std::io::stdout();
    let stderr = &mut std::io::stderr();
    loop {
        match editor.readline("(qom) ") {
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                match monitor.run_line(&line) {
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

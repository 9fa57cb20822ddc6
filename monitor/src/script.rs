//! Running many commands: `-c "cmd; cmd"` and scripts on standard input.

use crate::monitor::{Flow, RunLine};
use std::io::{BufRead, Write};

/// Splits `-c`'s argument into commands at each `;`. A backslash quotes
/// the character after it when that is `;` or another backslash: `\;` is
/// a literal `;` inside a command, `\\` a literal backslash. Any other
/// backslash is kept as typed, so values and paths need no escaping.
///
/// ```
/// use qom_monitor::split_commands;
///
/// assert_eq!(split_commands(r"info pci; qom-set /x s a\;b"), ["info pci", " qom-set /x s a;b"]);
/// assert_eq!(split_commands(r"a\\; b\n"), [r"a\", r" b\n"]);
/// ```
pub fn split_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ';' => commands.push(std::mem::take(&mut current)),
            '\\' => match chars.clone().next() {
                Some(quoted @ (';' | '\\')) => {
                    chars.next();
                    current.push(quoted);
                }
                _ => current.push('\\'),
            },
            c => current.push(c),
        }
    }
    commands.push(current);
    commands
}

/// Runs commands one after another; every failure prints one line to
/// `err`. Returns how many failed. Stops at `quit`. With `echo`, each
/// command is printed after a `(qom) ` prompt first (and each `#` comment
/// as it is), so the output reads as a transcript.
pub fn run_commands<S: AsRef<str>>(
    monitor: &mut impl RunLine,
    lines: impl IntoIterator<Item = S>,
    echo: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> usize {
    let mut failures = 0;
    for line in lines {
        let line = line.as_ref();
        let trimmed = line.trim();
        if echo && trimmed.starts_with('#') {
            let _ = writeln!(out, "{trimmed}");
        } else if echo && !trimmed.is_empty() {
            let _ = writeln!(out, "(qom) {trimmed}");
        }
        match monitor.run_line(line) {
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

/// Runs a script read from `input`, one command a line (a `;` is part of
/// the line, not a separator). Each line runs as soon as it is read, so a
/// program driving `qom` through a pipe sees each answer before it sends
/// the next command.
pub fn run_script(
    monitor: &mut impl RunLine,
    input: impl BufRead,
    echo: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> usize {
    run_commands(monitor, input.lines().map_while(Result::ok), echo, out, err)
}

#[cfg(test)]
mod tests {
    use super::split_commands;

    #[test]
    fn semicolons_separate_and_backslash_quotes_them() {
        assert_eq!(split_commands("a;b; c"), ["a", "b", " c"]);
        assert_eq!(split_commands(r"set v a\;b\;c"), ["set v a;b;c"]);
        assert_eq!(split_commands(r"x\\;y"), [r"x\", "y"]);
        assert_eq!(split_commands(r"x\\\;y"), [r"x\;y"]);
    }

    #[test]
    fn other_backslashes_and_empty_commands_are_kept() {
        assert_eq!(split_commands(r"C:\dir\n;"), [r"C:\dir\n", ""]);
        assert_eq!(split_commands(r"end\"), [r"end\"]);
        assert_eq!(split_commands(""), [""]);
    }
}

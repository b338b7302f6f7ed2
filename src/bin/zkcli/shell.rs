//! The interactive prompt: reads lines from a [`LineSource`] (the editor on a terminal, plain
//! lines from a pipe), keeps the session's numbered [`History`] (`history`, `!n`, `!!`,
//! `!prefix`), and runs each line's command on the [`Session`]. Errors are printed and the
//! prompt goes on; the exit code is decided here for piped input.

use std::io::{self, Write};

use crate::args::split_line;
use crate::commands::Session;
use crate::encoding::DataFormat;
use crate::failure::Failure;
use crate::help;
use crate::spec::{self, Command};
use crate::terminal::LineSource;

/// The commands typed this session, numbered from 1.
#[derive(Debug, Default)]
pub struct History {
    entries: Vec<String>,
}

impl History {
    /// The number the next command gets (shown in the prompt, as zkCli.sh does).
    pub fn next_number(&self) -> usize {
        self.entries.len() + 1
    }

    /// Records a command.
    pub fn push(&mut self, line: &str) {
        self.entries.push(line.to_string());
    }

    /// `history`'s listing: `n - command` lines, as zkCli.sh prints them.
    pub fn list(&self) -> String {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{} - {e}\n", i + 1))
            .collect()
    }

    /// The command a `!` line stands for: `!!` the last, `!n` number n, `!text` the latest
    /// starting with `text`. `None` for lines that do not start with `!`.
    pub fn expand(&self, line: &str) -> Result<Option<String>, String> {
        let Some(what) = line.strip_prefix('!') else {
            return Ok(None);
        };
        let found = match what {
            "!" => self.entries.last(),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| self.entries.get(i)),
            "" => return Err("!: say which command: !!, !n or !prefix".into()),
            prefix => self.entries.iter().rev().find(|e| e.starts_with(prefix)),
        };
        found
            .cloned()
            .map(Some)
            .ok_or_else(|| format!("{line}: no such command in history"))
    }
}

/// Runs the prompt until `quit` or the end of input. The exit code: 0, except for input that
/// is not a terminal, where it is the code of the last command that failed (so a script
/// piped in reports failure).
pub fn run(
    session: &mut Session,
    format: DataFormat,
    input: &mut dyn LineSource,
    tty: bool,
) -> i32 {
    let mut history = History::default();
    let mut status = 0;
    let mut out = io::stdout();
    loop {
        let prompt = format!("[zk: {} {}] ", session.describe(), history.next_number());
        let line = match input.read_line(&prompt) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                eprintln!("cannot read the input: {e}");
                status = 1;
                break;
            }
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let line = match history.expand(line) {
            Ok(Some(expanded)) => {
                let _ = writeln!(out, "{expanded}");
                expanded
            }
            Ok(None) => line.to_string(),
            Err(msg) => {
                eprintln!("{msg}");
                status = 2;
                continue;
            }
        };
        history.push(&line);
        input.remember(&line);
        let result = split_line(&line)
            .map_err(Failure::Usage)
            .and_then(|words| spec::parse(&words, format).map_err(|u| Failure::Usage(u.0)))
            .and_then(|cmd| match cmd {
                Command::Quit => Ok(false),
                Command::Help { topic } => {
                    let text =
                        help::help_text(topic.as_deref()).map_err(|u| Failure::Usage(u.0))?;
                    out.write_all(text.as_bytes())?;
                    Ok(true)
                }
                Command::History => {
                    out.write_all(history.list().as_bytes())?;
                    Ok(true)
                }
                other => session.run(other, &mut out, input).map(|()| true),
            });
        match result {
            Ok(true) => {}
            Ok(false) => break,
            Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => break,
            Err(f) => {
                eprintln!("{f}");
                status = f.exit_code();
            }
        }
    }
    if tty {
        0
    } else {
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(lines: &[&str]) -> History {
        let mut h = History::default();
        for l in lines {
            h.push(l);
        }
        h
    }

    #[test]
    fn bang_forms_find_their_command() {
        let h = history(&["ls /", "get /a", "ls /b"]);
        assert_eq!(h.expand("ls /"), Ok(None));
        assert_eq!(h.expand("!!"), Ok(Some("ls /b".into())));
        assert_eq!(h.expand("!1"), Ok(Some("ls /".into())));
        assert_eq!(h.expand("!2"), Ok(Some("get /a".into())));
        assert_eq!(h.expand("!ls"), Ok(Some("ls /b".into())));
        assert_eq!(h.expand("!g"), Ok(Some("get /a".into())));
        for bad in ["!0", "!4", "!99999999999999999999999", "!x", "!"] {
            assert!(h.expand(bad).is_err(), "{bad}");
        }
        assert!(History::default().expand("!!").is_err());
    }

    #[test]
    fn listing_numbers_from_one() {
        let h = history(&["ls /", "history"]);
        assert_eq!(h.list(), "1 - ls /\n2 - history\n");
        assert_eq!(h.next_number(), 3);
    }
}

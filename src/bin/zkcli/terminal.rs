//! The terminal: where lines come from ([`LineSource`]: plain stdin lines, or the raw-mode
//! [`editor`](crate::editor) on a TTY) and how output from other threads (watch events
//! arrive on the client's event thread) gets onto the screen without tearing the line being
//! edited ([`Console`]).
//!
//! Raw mode without a dependency and without `unsafe`: `stty` (POSIX, on every Unix) saves the
//! terminal's settings, turns off canonical mode, echo and signal keys while a line is read,
//! and puts the saved settings back right after (also when the read fails or panics). If
//! `stty` is missing or fails, zkcli reads plain lines instead. Output processing stays on, so
//! `\n` still moves to the start of the next row.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use crate::editor::{Key, KeyDecoder, LineEditor, Outcome};

/// Prints lines from any thread; while a line is being edited, a printed line appears above
/// it and the edited line is drawn again below. Its lock exists to serialise writes to the
/// terminal, so it is held while writing (nothing else ever waits on it).
#[derive(Debug, Default)]
pub struct Console {
    /// What currently draws the edited line, if one is on screen.
    line: Mutex<Option<String>>,
}

impl Console {
    /// Prints `text` and a newline to stdout (errors ignored: the reader may be gone).
    pub fn line(&self, text: &str) {
        let shown = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = io::stdout().lock();
        let _ = match shown.as_deref() {
            Some(redraw) => write!(out, "\r\x1b[K{text}\n{redraw}"),
            None => writeln!(out, "{text}"),
        };
        let _ = out.flush();
    }

    /// Draws the edited line and remembers how, for redrawing after [`line`](Self::line).
    fn draw(&self, rendered: String) {
        let mut shown = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = io::stdout().lock();
        let _ = out.write_all(rendered.as_bytes());
        let _ = out.flush();
        *shown = Some(rendered);
    }

    /// Clears the screen (Ctrl-L).
    fn clear_screen(&self) {
        let _shown = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[H\x1b[2J");
        let _ = out.flush();
    }

    /// Ends the edited line: the cursor goes to the next row, nothing is redrawn any more.
    fn finish(&self, tail: &str) {
        let mut shown = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{tail}");
        let _ = out.flush();
        *shown = None;
    }
}

/// Where the interactive prompt's lines come from.
pub trait LineSource {
    /// The next line (without its newline) after showing `prompt`; `None` at end of input.
    /// Ctrl-C on a terminal gives an empty line.
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>>;

    /// Asks a question and reads the answer (the question goes to stderr when lines are not
    /// edited on a terminal, so that stdout keeps only results).
    fn ask(&mut self, question: &str) -> io::Result<Option<String>> {
        eprint!("{question}");
        let _ = io::stderr().flush();
        self.read_line("")
    }

    /// Records a line for recall with the Up arrow (no-op without an editor).
    fn remember(&mut self, _line: &str) {}
}

/// Plain lines from stdin: a pipe, a file, or a terminal where raw mode is unavailable.
#[derive(Debug)]
pub struct PlainLines {
    /// Show prompts (stdin is a terminal).
    pub prompt: bool,
}

impl LineSource for PlainLines {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        if self.prompt && !prompt.is_empty() {
            let mut out = io::stdout().lock();
            write!(out, "{prompt}")?;
            out.flush()?;
        }
        let mut line = String::new();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let trimmed = line.trim_end_matches(['\n', '\r']).len();
        line.truncate(trimmed);
        Ok(Some(line))
    }
}

/// Lines edited on a terminal in raw mode, with history recall and a history file.
pub struct TtyLines {
    console: Arc<Console>,
    saved: String,
    history: Vec<String>,
    history_file: Option<PathBuf>,
    names: Vec<&'static str>,
}

/// How many history lines are kept (in memory and in the file).
const HISTORY_MAX: usize = 1000;

impl TtyLines {
    /// An editor, if stdin and stdout are terminals and `stty` works; `names` are the command
    /// names Tab completes.
    pub fn open(console: Arc<Console>, names: Vec<&'static str>) -> Option<TtyLines> {
        use std::io::IsTerminal;
        if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
            return None;
        }
        let saved = stty(&["-g"]).ok()?;
        let history_file = history_file();
        let history = history_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| {
                let lines: Vec<String> = s.lines().map(String::from).collect();
                let skip = lines.len().saturating_sub(HISTORY_MAX);
                lines.into_iter().skip(skip).collect()
            })
            .unwrap_or_default();
        Some(TtyLines {
            console,
            saved: saved.trim().to_string(),
            history,
            history_file,
            names,
        })
    }

    fn edit(&mut self, prompt: &str) -> io::Result<Option<String>> {
        let width = terminal_width();
        let mut editor = LineEditor::new();
        let mut keys = KeyDecoder::default();
        self.console.draw(editor.render(prompt, width));
        let mut buf = [0u8; 64];
        loop {
            let n = io::stdin().lock().read(&mut buf)?;
            if n == 0 {
                self.console.finish("");
                return Ok(None);
            }
            for &b in &buf[..n] {
                let Some(key) = keys.feed(b) else { continue };
                match editor.handle(key, &self.history, &self.names) {
                    Outcome::Edited => self.console.draw(editor.render(prompt, width)),
                    Outcome::Submit(line) => {
                        self.end_of_line(&mut editor, prompt, width, "");
                        return Ok(Some(line));
                    }
                    Outcome::Interrupted => {
                        self.end_of_line(&mut editor, prompt, width, "^C");
                        return Ok(Some(String::new()));
                    }
                    Outcome::EndOfInput => {
                        self.console.finish("");
                        return Ok(None);
                    }
                    Outcome::ClearScreen => {
                        self.console.clear_screen();
                        self.console.draw(editor.render(prompt, width));
                    }
                }
            }
        }
    }

    /// Leaves the finished line on screen with the cursor after it, then `tail` and a newline.
    fn end_of_line(&self, editor: &mut LineEditor, prompt: &str, width: usize, tail: &str) {
        editor.handle(Key::End, &[], &[]);
        self.console.draw(editor.render(prompt, width));
        self.console.finish(tail);
    }
}

impl LineSource for TtyLines {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>> {
        stty(&[
            "-icanon", "-echo", "-isig", "-iexten", "-ixon", "min", "1", "time", "0",
        ])?;
        // Restored however the edit ends.
        struct Restore<'a>(&'a str);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                let _ = stty(&[self.0]);
            }
        }
        let saved = self.saved.clone();
        let _restore = Restore(&saved);
        self.edit(prompt)
    }

    fn ask(&mut self, question: &str) -> io::Result<Option<String>> {
        self.read_line(question)
    }

    fn remember(&mut self, line: &str) {
        if self.history.last().map(String::as_str) == Some(line) {
            return;
        }
        self.history.push(line.to_string());
        if self.history.len() > HISTORY_MAX {
            self.history.remove(0);
        }
        if let Some(path) = &self.history_file {
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"));
        }
    }
}

/// `$ZKCLI_HISTORY` (empty: no file), else `~/.zkcli_history`.
fn history_file() -> Option<PathBuf> {
    match std::env::var_os("ZKCLI_HISTORY") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".zkcli_history")),
    }
}

/// Runs `stty` on our terminal (stdin) and returns what it printed.
fn stty(args: &[&str]) -> io::Result<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!("stty {} failed", args.join(" "))));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The terminal's width in columns (`stty size`; 80 if unknown).
fn terminal_width() -> usize {
    stty(&["size"])
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .filter(|&w: &usize| w > 0)
        .unwrap_or(80)
}

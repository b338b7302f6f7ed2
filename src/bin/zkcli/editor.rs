//! The line editor's logic, free of I/O so that it can be tested byte by byte: [`KeyDecoder`]
//! turns the bytes a terminal sends in raw mode (UTF-8, escape sequences for the arrows, Home,
//! End, Delete) into [`Key`]s; [`LineEditor`] applies keys to a line (emacs-style bindings,
//! history recall with Up/Down, command-name completion with Tab) and renders it, scrolling
//! sideways when the line is wider than the terminal. `terminal` feeds it stdin and writes
//! what it renders.

/// One key press, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character to insert.
    Char(char),
    /// Return.
    Enter,
    /// Backspace or Ctrl-H: delete before the cursor.
    Backspace,
    /// Delete: delete under the cursor.
    Delete,
    /// Left arrow, Ctrl-B.
    Left,
    /// Right arrow, Ctrl-F.
    Right,
    /// Alt-B, Ctrl-Left.
    WordLeft,
    /// Alt-F, Ctrl-Right.
    WordRight,
    /// Up arrow, Ctrl-P: the previous history entry.
    Up,
    /// Down arrow, Ctrl-N: the next history entry.
    Down,
    /// Home, Ctrl-A.
    Home,
    /// End, Ctrl-E.
    End,
    /// Ctrl-K: delete to the end of the line.
    KillToEnd,
    /// Ctrl-U: delete to the start of the line.
    KillToStart,
    /// Ctrl-W, Alt-Backspace: delete the word before the cursor.
    KillWordBack,
    /// Ctrl-L: clear the screen.
    ClearScreen,
    /// Ctrl-C: abandon the line.
    Interrupt,
    /// Ctrl-D: end of input on an empty line, else Delete.
    EndOfInput,
    /// Tab: complete the command name.
    Tab,
    /// Anything else (ignored).
    Ignore,
}

/// Turns raw terminal bytes into keys.
#[derive(Debug, Default)]
pub struct KeyDecoder {
    pending: Vec<u8>,
}

impl KeyDecoder {
    /// Feeds one byte; a key once a whole one has arrived.
    pub fn feed(&mut self, b: u8) -> Option<Key> {
        match self.pending.first().copied() {
            None => self.start(b),
            Some(0x1b) => self.escape(b),
            Some(_) => self.utf8(b),
        }
    }

    fn start(&mut self, b: u8) -> Option<Key> {
        Some(match b {
            0x1b => {
                self.pending.push(b);
                return None;
            }
            0x01 => Key::Home,
            0x02 => Key::Left,
            0x03 => Key::Interrupt,
            0x04 => Key::EndOfInput,
            0x05 => Key::End,
            0x06 => Key::Right,
            0x08 | 0x7f => Key::Backspace,
            0x09 => Key::Tab,
            b'\r' | b'\n' => Key::Enter,
            0x0b => Key::KillToEnd,
            0x0c => Key::ClearScreen,
            0x0e => Key::Down,
            0x10 => Key::Up,
            0x15 => Key::KillToStart,
            0x17 => Key::KillWordBack,
            0x20..=0x7e => Key::Char(char::from(b)),
            0xc2..=0xf4 => {
                self.pending.push(b);
                return None;
            }
            _ => Key::Ignore,
        })
    }

    fn escape(&mut self, b: u8) -> Option<Key> {
        if self.pending.len() == 1 {
            let key = match b {
                b'[' | b'O' => {
                    self.pending.push(b);
                    return None;
                }
                b'b' => Key::WordLeft,
                b'f' => Key::WordRight,
                0x7f | 0x08 => Key::KillWordBack,
                _ => Key::Ignore,
            };
            self.pending.clear();
            return Some(key);
        }
        // ESC [ params final, or ESC O final.
        if (0x40..=0x7e).contains(&b) {
            let params = String::from_utf8_lossy(&self.pending[2..]).into_owned();
            self.pending.clear();
            let modified = params.contains(';');
            return Some(match b {
                b'A' => Key::Up,
                b'B' => Key::Down,
                b'C' if modified => Key::WordRight,
                b'D' if modified => Key::WordLeft,
                b'C' => Key::Right,
                b'D' => Key::Left,
                b'H' => Key::Home,
                b'F' => Key::End,
                b'~' => match params.split(';').next().unwrap_or("") {
                    "1" | "7" => Key::Home,
                    "4" | "8" => Key::End,
                    "3" => Key::Delete,
                    _ => Key::Ignore,
                },
                _ => Key::Ignore,
            });
        }
        if (0x20..=0x3f).contains(&b) && self.pending.len() < 16 {
            self.pending.push(b);
            return None;
        }
        self.pending.clear();
        Some(Key::Ignore)
    }

    fn utf8(&mut self, b: u8) -> Option<Key> {
        if b & 0xc0 != 0x80 {
            self.pending.clear();
            return self.start(b);
        }
        self.pending.push(b);
        let want = match self.pending[0] {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        if self.pending.len() < want {
            return None;
        }
        let key = std::str::from_utf8(&self.pending)
            .ok()
            .and_then(|s| s.chars().next())
            .map_or(Key::Ignore, Key::Char);
        self.pending.clear();
        Some(key)
    }
}

/// What a key did to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Keep editing (redraw).
    Edited,
    /// The line is done.
    Submit(String),
    /// Ctrl-C: the line is abandoned.
    Interrupted,
    /// Ctrl-D on an empty line.
    EndOfInput,
    /// Ctrl-L: clear the screen, then redraw.
    ClearScreen,
}

/// One line being edited.
#[derive(Debug, Default)]
pub struct LineEditor {
    buf: Vec<char>,
    pos: usize,
    /// The history entry shown, if Up was pressed; and the line typed before that.
    recall: Option<(usize, Vec<char>)>,
}

impl LineEditor {
    /// An empty line.
    pub fn new() -> LineEditor {
        LineEditor::default()
    }

    /// The text so far.
    pub fn text(&self) -> String {
        self.buf.iter().collect()
    }

    /// Applies `key`. `history` is oldest first; `names` are what Tab completes.
    pub fn handle(&mut self, key: Key, history: &[String], names: &[&str]) -> Outcome {
        match key {
            Key::Char(c) => {
                self.buf.insert(self.pos, c);
                self.pos += 1;
            }
            Key::Enter => return Outcome::Submit(self.text()),
            Key::Backspace if self.pos > 0 => {
                self.pos -= 1;
                self.buf.remove(self.pos);
            }
            Key::Delete if self.pos < self.buf.len() => {
                self.buf.remove(self.pos);
            }
            Key::EndOfInput if self.buf.is_empty() => return Outcome::EndOfInput,
            Key::EndOfInput if self.pos < self.buf.len() => {
                self.buf.remove(self.pos);
            }
            Key::Left => self.pos = self.pos.saturating_sub(1),
            Key::Right => self.pos = (self.pos + 1).min(self.buf.len()),
            Key::WordLeft => self.pos = self.word_start(),
            Key::WordRight => {
                while self.pos < self.buf.len() && self.buf[self.pos].is_whitespace() {
                    self.pos += 1;
                }
                while self.pos < self.buf.len() && !self.buf[self.pos].is_whitespace() {
                    self.pos += 1;
                }
            }
            Key::Home => self.pos = 0,
            Key::End => self.pos = self.buf.len(),
            Key::KillToEnd => self.buf.truncate(self.pos),
            Key::KillToStart => {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            Key::KillWordBack => {
                let start = self.word_start();
                self.buf.drain(start..self.pos);
                self.pos = start;
            }
            Key::Up => self.recall_entry(history, true),
            Key::Down => self.recall_entry(history, false),
            Key::Tab => self.complete(names),
            Key::ClearScreen => return Outcome::ClearScreen,
            Key::Interrupt => return Outcome::Interrupted,
            Key::Backspace | Key::Delete | Key::EndOfInput | Key::Ignore => {}
        }
        Outcome::Edited
    }

    /// Where the word before the cursor starts (skipping blanks first, as readline does).
    fn word_start(&self) -> usize {
        let mut i = self.pos;
        while i > 0 && self.buf[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > 0 && !self.buf[i - 1].is_whitespace() {
            i -= 1;
        }
        i
    }

    fn recall_entry(&mut self, history: &[String], older: bool) {
        let next = match (&self.recall, older) {
            (None, true) => history.len().checked_sub(1),
            (None, false) => return,
            (Some((i, _)), true) => Some(i.saturating_sub(1)),
            (Some((i, _)), false) if i + 1 < history.len() => Some(i + 1),
            // Down past the newest entry: back to what was being typed.
            (Some(_), false) => {
                if let Some((_, typed)) = self.recall.take() {
                    self.buf = typed;
                    self.pos = self.buf.len();
                }
                return;
            }
        };
        let Some(i) = next else { return };
        let Some(entry) = history.get(i) else { return };
        let typed = match self.recall.take() {
            Some((_, typed)) => typed,
            None => self.buf.clone(),
        };
        self.recall = Some((i, typed));
        self.buf = entry.chars().collect();
        self.pos = self.buf.len();
    }

    /// Completes the first word from `names`: all of it when one name fits, else as far as
    /// the names that fit agree.
    fn complete(&mut self, names: &[&str]) {
        if self.buf[..self.pos].iter().any(|c| c.is_whitespace()) {
            return;
        }
        let typed: String = self.buf[..self.pos].iter().collect();
        let fits: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| n.len() > typed.len() && n.starts_with(typed.as_str()))
            .collect();
        let Some(first) = fits.first() else { return };
        let mut common: String = first.to_string();
        for n in &fits[1..] {
            let same = common
                .chars()
                .zip(n.chars())
                .take_while(|(a, b)| a == b)
                .count();
            common = common.chars().take(same).collect();
        }
        let mut add: Vec<char> = common.chars().skip(self.pos).collect();
        if fits.len() == 1 && self.buf.get(self.pos) != Some(&' ') {
            add.push(' ');
        }
        for c in add {
            self.buf.insert(self.pos, c);
            self.pos += 1;
        }
    }

    /// The bytes that draw `prompt` and the line on the current terminal row, `width`
    /// columns wide, leaving the cursor where it belongs. A line too wide for the row
    /// scrolls sideways so that the cursor stays visible; the last column is never written
    /// (no automatic wrap).
    pub fn render(&self, prompt: &str, width: usize) -> String {
        let plen = prompt.chars().count();
        let room = width.saturating_sub(plen + 1).max(1);
        let start = (self.pos + 1).saturating_sub(room);
        let end = self.buf.len().min(start + room);
        let shown: String = self.buf[start..end].iter().collect();
        let mut s = format!("\r{prompt}{shown}\x1b[K\r");
        let col = plen + self.pos - start;
        if col > 0 {
            s.push_str(&format!("\x1b[{col}C"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut d = KeyDecoder::default();
        bytes.iter().filter_map(|&b| d.feed(b)).collect()
    }

    #[test]
    fn decodes_controls_arrows_and_utf8() {
        assert_eq!(
            keys(b"a\x7f\r"),
            vec![Key::Char('a'), Key::Backspace, Key::Enter]
        );
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOH\x1b[F"),
            vec![
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
                Key::Home,
                Key::End
            ]
        );
        assert_eq!(
            keys(b"\x1b[1~\x1b[4~\x1b[3~\x1b[7~\x1b[8~\x1b[5~"),
            vec![
                Key::Home,
                Key::End,
                Key::Delete,
                Key::Home,
                Key::End,
                Key::Ignore
            ]
        );
        assert_eq!(
            keys(b"\x1b[1;5C\x1b[1;5D"),
            vec![Key::WordRight, Key::WordLeft]
        );
        assert_eq!(
            keys(b"\x1bb\x1bf\x1bx"),
            vec![Key::WordLeft, Key::WordRight, Key::Ignore]
        );
        assert_eq!(
            keys("é€😀".as_bytes()),
            vec![Key::Char('é'), Key::Char('€'), Key::Char('😀')]
        );
        assert_eq!(
            keys(b"\x03\x04\x01\x05\x0b\x15\x17\x0c\t"),
            vec![
                Key::Interrupt,
                Key::EndOfInput,
                Key::Home,
                Key::End,
                Key::KillToEnd,
                Key::KillToStart,
                Key::KillWordBack,
                Key::ClearScreen,
                Key::Tab
            ]
        );
        // A broken UTF-8 sequence is dropped and the next key still decodes.
        assert_eq!(keys(b"\xc3a"), vec![Key::Char('a')]);
        assert_eq!(keys(b"\xff"), vec![Key::Ignore]);
        // An endless escape sequence is cut off, not buffered forever.
        let long: Vec<u8> = b"\x1b[".iter().chain([b'1'; 40].iter()).copied().collect();
        assert!(keys(&long).contains(&Key::Ignore));
    }

    fn edit(ed: &mut LineEditor, input: &[u8], history: &[String]) -> Vec<Outcome> {
        keys(input)
            .into_iter()
            .map(|k| ed.handle(k, history, &["get", "getAcl", "ls", "set"]))
            .filter(|o| *o != Outcome::Edited)
            .collect()
    }

    #[test]
    fn edits_in_the_middle_of_the_line() {
        let mut ed = LineEditor::new();
        edit(&mut ed, b"ls /b\x1b[D\x1b[Da", &[]);
        assert_eq!(ed.text(), "ls a/b");
        edit(&mut ed, b"\x01\x1b[3~\x05\x7f", &[]);
        assert_eq!(ed.text(), "s a/");
        edit(&mut ed, b" xyz\x17", &[]);
        assert_eq!(ed.text(), "s a/ ");
        edit(&mut ed, b"\x1bb\x0b", &[]);
        assert_eq!(ed.text(), "s ");
        edit(&mut ed, b"tail\x01\x1bf\x15", &[]);
        assert_eq!(ed.text(), " tail");
        assert_eq!(
            edit(&mut ed, b"\r", &[]),
            vec![Outcome::Submit(" tail".into())]
        );
    }

    #[test]
    fn ctrl_d_ends_input_only_on_an_empty_line() {
        let mut ed = LineEditor::new();
        assert_eq!(edit(&mut ed, b"\x04", &[]), vec![Outcome::EndOfInput]);
        let mut ed = LineEditor::new();
        assert!(edit(&mut ed, b"ab\x01\x04", &[]).is_empty());
        assert_eq!(ed.text(), "b");
        assert_eq!(edit(&mut ed, b"\x03", &[]), vec![Outcome::Interrupted]);
    }

    #[test]
    fn up_and_down_recall_history_and_come_back() {
        let h: Vec<String> = vec!["ls /".into(), "get /a".into()];
        let mut ed = LineEditor::new();
        edit(&mut ed, b"sta", &h);
        edit(&mut ed, b"\x1b[A", &h);
        assert_eq!(ed.text(), "get /a");
        edit(&mut ed, b"\x1b[A\x1b[A", &h);
        assert_eq!(ed.text(), "ls /");
        edit(&mut ed, b"\x1b[B", &h);
        assert_eq!(ed.text(), "get /a");
        edit(&mut ed, b"\x1b[B", &h);
        assert_eq!(ed.text(), "sta");
        edit(&mut ed, b"\x1b[B", &h);
        assert_eq!(ed.text(), "sta");
        let mut empty = LineEditor::new();
        edit(&mut empty, b"\x1b[A\x1b[B", &[]);
        assert_eq!(empty.text(), "");
    }

    #[test]
    fn tab_completes_the_command_name() {
        let mut ed = LineEditor::new();
        edit(&mut ed, b"l\t", &[]);
        assert_eq!(ed.text(), "ls ");
        let mut ed = LineEditor::new();
        edit(&mut ed, b"g\t", &[]);
        assert_eq!(ed.text(), "get");
        let mut ed = LineEditor::new();
        edit(&mut ed, b"get /\t", &[]);
        assert_eq!(ed.text(), "get /");
    }

    #[test]
    fn render_places_the_cursor_and_scrolls_long_lines() {
        let mut ed = LineEditor::new();
        edit(&mut ed, b"get /a\x1b[D", &[]);
        assert_eq!(ed.render("> ", 80), "\r> get /a\x1b[K\r\x1b[7C");
        let mut ed = LineEditor::new();
        edit(&mut ed, b"0123456789", &[]);
        // 10 columns: "> " and 7 characters, the cursor in column 9.
        assert_eq!(ed.render("> ", 10), "\r> 456789\x1b[K\r\x1b[8C");
        edit(&mut ed, b"\x01", &[]);
        assert_eq!(ed.render("> ", 10), "\r> 0123456\x1b[K\r\x1b[2C");
        assert_eq!(LineEditor::new().render("", 80), "\r\x1b[K\r");
    }
}

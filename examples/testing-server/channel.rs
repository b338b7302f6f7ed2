//! Where command lines come from: stdin (answers on stdout) and a loopback control port
//! (answers on the same connection). Each runs on its own thread and tells the main thread
//! through `Exit` when the process must end. (Its unit tests, and those of `control.rs`, run
//! in `tests/testing_server_example.rs`.)

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use zk_curator::testing::TestingServer;

use crate::control;

/// A longer line is answered `err` and skipped; the channel stays open.
const MAX_LINE: usize = 4096;
/// Control connections served at once; more are refused.
const MAX_CONNECTIONS: usize = 16;

/// Why the process ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A `quit` command.
    Quit,
    /// End of stdin with `--exit-on-stdin-close`.
    StdinClosed,
}

/// One line of input.
enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

/// Reads one line of at most [`MAX_LINE`] bytes (the rest of a longer one is skipped);
/// `None` at end of input.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut too_long = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            if buf.is_empty() && !too_long {
                return Ok(None);
            }
            break;
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > MAX_LINE + 1 {
            too_long = true;
        } else {
            buf.extend_from_slice(&chunk[..take]);
        }
        r.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(match String::from_utf8(buf) {
        Ok(s) => Line::Text(s.trim_end_matches(['\n', '\r']).to_string()),
        Err(_) => Line::NotUtf8,
    }))
}

/// Serves command lines from `input` until its end or `quit`; `None` at the end of input.
fn serve(
    server: &TestingServer,
    input: &mut impl BufRead,
    mut answer: impl FnMut(&str) -> io::Result<()>,
) -> io::Result<Option<Exit>> {
    while let Some(line) = read_line(input)? {
        let line = match line {
            Line::Text(t) if t.trim().is_empty() => continue,
            Line::Text(t) => t,
            Line::TooLong => {
                answer(&format!("err line longer than {MAX_LINE} bytes"))?;
                continue;
            }
            Line::NotUtf8 => {
                answer("err not UTF-8")?;
                continue;
            }
        };
        let a = control::execute(server, &line);
        answer(&a.line)?;
        if a.quit {
            return Ok(Some(Exit::Quit));
        }
    }
    Ok(None)
}

/// Reads stdin to its end: commands when `commands`, otherwise lines are ignored. At the
/// end, tells `exit` if `exit_at_eof`.
pub fn stdin(
    server: Arc<TestingServer>,
    commands: bool,
    exit_at_eof: bool,
    exit: Sender<Exit>,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("control-stdin".into())
        .spawn(move || {
            let mut input = io::stdin().lock();
            let outcome = if commands {
                serve(&server, &mut input, |line| {
                    let mut out = io::stdout().lock();
                    writeln!(out, "{line}")?;
                    out.flush()
                })
            } else {
                let mut sink = Vec::new();
                loop {
                    sink.clear();
                    match input.read_until(b'\n', &mut sink) {
                        Ok(0) => break Ok(None),
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                }
            };
            match outcome {
                Ok(Some(why)) => {
                    let _ = exit.send(why);
                }
                // End of input, or stdin cannot be read (closed, or stdout gone).
                Ok(None) | Err(_) if exit_at_eof => {
                    let _ = exit.send(Exit::StdinClosed);
                }
                Ok(None) | Err(_) => {}
            }
        })?;
    Ok(())
}

/// Serves commands on `listener` (one thread per connection, at most [`MAX_CONNECTIONS`]).
pub fn port(
    server: Arc<TestingServer>,
    listener: TcpListener,
    exit: Sender<Exit>,
) -> io::Result<()> {
    let live = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("control-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    // Out of descriptors and the like: back off instead of spinning.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                if live.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                    live.fetch_sub(1, Ordering::AcqRel);
                    let _ = (&stream).write_all(b"err too many control connections\n");
                    continue;
                }
                let (server, exit, slot) = (Arc::clone(&server), exit.clone(), Arc::clone(&live));
                let spawned = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || {
                        if let Ok(Some(why)) = connection(&server, stream) {
                            let _ = exit.send(why);
                        }
                        slot.fetch_sub(1, Ordering::AcqRel);
                    });
                if spawned.is_err() {
                    // The closure, and with it the connection, is gone: free its slot.
                    live.fetch_sub(1, Ordering::AcqRel);
                    eprintln!("testing-server: cannot start a control connection thread");
                }
            }
        })?;
    Ok(())
}

fn connection(server: &TestingServer, stream: TcpStream) -> io::Result<Option<Exit>> {
    let _ = stream.set_nodelay(true);
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    serve(server, &mut input, |line| {
        out.write_all(format!("{line}\n").as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<String> {
        let mut r = io::BufReader::with_capacity(7, input);
        let mut out = Vec::new();
        while let Some(l) = read_line(&mut r).unwrap() {
            out.push(match l {
                Line::Text(t) => t,
                Line::TooLong => "<too long>".into(),
                Line::NotUtf8 => "<not utf-8>".into(),
            });
        }
        out
    }

    #[test]
    fn lines_are_split_capped_and_checked() {
        assert_eq!(
            lines(b"stop\r\nexpire 0x1\nlast"),
            ["stop", "expire 0x1", "last"]
        );
        let mut long = vec![b'x'; MAX_LINE + 10];
        long.extend_from_slice(b"\nnext\n\xff\n");
        assert_eq!(lines(&long), ["<too long>", "next", "<not utf-8>"]);
        assert!(lines(b"").is_empty());
    }
}

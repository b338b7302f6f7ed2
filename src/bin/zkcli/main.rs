//! `zkcli`: a ZooKeeper shell for operators, in the spirit of Apache's `zkCli.sh`, built on
//! zk-curator's public API and on nothing but the standard library besides.
//!
//! ```text
//! zkcli [--server host:port[,host:port...][/chroot]] [--timeout 10s] [--hex|--base64] <command>
//! zkcli [--server ...]              # the interactive prompt
//! ```
//!
//! Exit codes: 0 success, 1 a ZooKeeper error (stderr names the kind and the path) or no
//! connection, 2 a usage error. The modules: `args` (command line, shell words, getopt),
//! `help` (the commands, their syntax and the usage error), `spec` (parsing a command),
//! `failure` (how a command fails, with its exit code), `commands` (the session and each
//! command), `watch` (`watch` and its event loop), `format` (zkCli's output shapes, ACL
//! syntax), `encoding` (hex and base64), `shell` (the prompt and its history), `editor`
//! (line editing logic) and `terminal` (raw mode, the console, line sources).
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! editor, encoding, format, help; args, failure, terminal; spec; watch; commands; shell.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod editor;
mod encoding;
mod failure;
mod format;
mod help;
mod shell;
mod spec;
mod terminal;
mod watch;

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use args::{Global, Invocation};
use commands::Session;
use failure::Failure;
use spec::Command;
use terminal::{Console, LineSource, PlainLines, TtyLines};

const USAGE: &str = "\
usage: zkcli [options] [command [args...]]

Runs one command against a ZooKeeper ensemble, or an interactive prompt when no command is
given (commands, then help, history, !n, !!, quit).

options (before the command):
  --server host:port[,host:port...][/chroot]
                        the ensemble (default: $ZK_CONNECT, else 127.0.0.1:2181)
  --timeout 10s         how long to wait for a connection (units ms, s, m, h; a bare
                        number is milliseconds, as in zkCli.sh)
  --session-timeout 30s the session timeout to ask for
  --auth scheme:auth    authenticate, e.g. --auth digest:user:password (repeatable)
  --hex | --base64      type and show node data in hex or base64 (also per command)
  -h, --help            this text
  -V, --version         the version

exit codes: 0 ok, 1 ZooKeeper error or no connection, 2 usage error
";

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => return usage_error(&format!("argument {a:?} is not valid UTF-8")),
        }
    }
    let g = match args::parse_global(&args, std::env::var("ZK_CONNECT").ok()) {
        Ok(Invocation::Run(g)) => g,
        Ok(Invocation::Help) => {
            print!(
                "{USAGE}\ncommands:\n{}",
                help::help_text(None).unwrap_or_default()
            );
            return 0;
        }
        Ok(Invocation::Version) => {
            println!("zkcli {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Err(msg) => return usage_error(&msg),
    };
    if g.command.is_empty() {
        interactive(&g)
    } else {
        one_shot(&g)
    }
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("zkcli: {msg}\n(zkcli --help for the options, zkcli help for the commands)");
    2
}

/// One command from the command line: parsed before connecting, so that a typo needs no
/// server.
fn one_shot(g: &Global) -> i32 {
    let cmd = match spec::parse(&g.command, g.format) {
        Ok(c) => c,
        Err(u) => return usage_error(&u.0),
    };
    match cmd {
        Command::Help { topic } => {
            return match help::help_text(topic.as_deref()) {
                Ok(t) => {
                    print!("{t}");
                    0
                }
                Err(u) => usage_error(&u.0),
            }
        }
        Command::History | Command::Quit => {
            return usage_error("history, !n and quit belong to the interactive prompt")
        }
        _ => {}
    }
    let waits = matches!(
        cmd,
        Command::Ls { watch: true, .. }
            | Command::Get { watch: true, .. }
            | Command::Stat { watch: true, .. }
            | Command::Config { watch: true, .. }
    );
    let console = Arc::new(Console::default());
    let mut session = match Session::connect(g, console, false) {
        Ok(s) => s,
        Err(f) => return report(&f),
    };
    // deleteall's question is answered on stdin (the question itself goes to stderr).
    let mut input = PlainLines { prompt: false };
    let mut out = io::stdout();
    let mut result = session.run(cmd, &mut out, &mut input);
    // With -w the command waits for its watch to fire, so that a shell can wait for a change.
    if result.is_ok() && waits {
        result = session.wait_for_watch();
    }
    session.close();
    match result {
        Ok(()) => 0,
        Err(f) => report(&f),
    }
}

/// Prints a failure the way one-shot commands do and gives its exit code.
fn report(f: &Failure) -> i32 {
    if let Failure::Output(e) = f {
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`zkcli ls -R / | head`): not worth a message.
            return 0;
        }
    }
    eprintln!("zkcli: {f}");
    let _ = io::stderr().flush();
    f.exit_code()
}

/// The prompt: the line editor on a terminal, plain lines otherwise.
fn interactive(g: &Global) -> i32 {
    let tty = io::stdin().is_terminal();
    let console = Arc::new(Console::default());
    let mut session = match Session::connect(g, console.clone(), true) {
        Ok(s) => s,
        Err(f) => return report(&f),
    };
    let names: Vec<&'static str> = help::COMMANDS.iter().map(|h| h.name).collect();
    let mut input: Box<dyn LineSource> = match TtyLines::open(console, names) {
        Some(editor) => Box::new(editor),
        None => Box::new(PlainLines { prompt: tty }),
    };
    if tty {
        println!(
            "Connected to {}. Type help for the commands, quit to leave.",
            g.server
        );
    }
    let status = shell::run(&mut session, g.format, input.as_mut(), tty);
    session.close();
    status
}

//! A standalone in-process ZooKeeper for any client in any language, with a control channel
//! that a test suite in any language can drive.
//!
//! ```text
//! cargo run --example testing-server -- [--port 2181] [flags]   # --help lists them
//! ```
//!
//! Prints its connect string (`127.0.0.1:PORT`) as the first line on stdout, then serves
//! until it is stopped with Ctrl-C (SIGINT), `kill` (SIGTERM) or a `quit` command. By default
//! stdin is not read, so it runs the same in the background, under a script or in CI, where
//! stdin is `/dev/null`:
//!
//! ```text
//! cargo build --example testing-server
//! target/debug/examples/testing-server --port 2181 > /tmp/zk.addr &
//! server=$!
//! ...                       # clients use 127.0.0.1:2181
//! kill "$server"
//! ```
//!
//! The signals are not caught: their default action ends the process, and that is all this
//! server needs, since its whole state lives in memory and the kernel closes its sockets
//! (clients see their connections close, as when a real server is killed). Catching them would
//! take `unsafe` or a dependency for nothing more.
//!
//! # Control channel
//!
//! Commands, one per line, each answered with one line, `ok [text]` or `err <why>` (blank
//! lines are ignored); `control.rs` has the list and `docs/testing.md` what each does:
//! `stop`, `restart`, `expire <session-id>`, `expire-all`, `drop`, `pause`, `resume`,
//! `latency <µs>`, `commit-latency <µs>`, `fail-next <n> <op>`, `sessions`, `dump`, `help`,
//! `quit`. They come from either or both of:
//!
//! * `--control-port N`: a control port on `127.0.0.1:N` (0 picks a free one); the second
//!   line on stdout is then `control 127.0.0.1:PORT`. Any number of clients, one after the
//!   other or at once (up to 16 connections).
//! * `--control-stdin`: stdin, answered on stdout after the first line(s). At the end of
//!   stdin the server keeps serving (unless `--exit-on-stdin-close`), so `< /dev/null` is
//!   harmless. Do not combine it with `&` in an interactive shell: a background job that
//!   reads its terminal is stopped by the shell; use the port there.
//!
//! With `--exit-on-stdin-close` it stops, closing the server properly, when stdin reaches end
//! of file (the behaviour before that flag existed; lines are ignored unless
//! `--control-stdin`): a parent process (a script holding a fifo open, a JVM holding a pipe)
//! then ties the server's life to its own, however it ends.

mod channel;
mod control;

use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;

use control::{parse_duration, Unit};
use zk_curator::testing::{TestingServer, TestingServerBuilder};

const USAGE: &str = "\
usage: testing-server [flags]
  --port N                      client port on 127.0.0.1 (default 0: a free one)
  --tick-time D                 tickTime (default 2000 ms; --tick-ms is the old spelling)
  --min-session-timeout D       smallest negotiated session timeout (default 2 ticks)
  --max-session-timeout D       largest negotiated session timeout (default 20 ticks)
  --container-check-interval D  how often containers and TTL nodes are reaped (default 100 ms)
  --commit-latency D            time a write takes to commit (default 0; bare numbers in µs)
  --extended-types on|off       TTL nodes allowed (default on)
  --super-user USER:PASSWORD    digest credentials that are granted super
  --realistic                   production-like write timing (commit latency 500 µs)
  --curator                     Curator's TestingServer settings: tick 1000 ms, sessions 1-20 s
  --control-port N              commands on 127.0.0.1:N (0: a free one, printed on line 2)
  --control-stdin               commands on stdin, answers on stdout
  --exit-on-stdin-close         stop when stdin reaches end of file
D is a whole number with us, ms or s (bare: ms, except for --commit-latency). Presets apply
first, the other flags override them whatever their order.";

/// The command line, parsed.
#[derive(Default)]
struct Options {
    port: u16,
    realistic: bool,
    curator: bool,
    /// Builder settings in command-line order, applied after the presets.
    settings: Vec<Box<dyn FnOnce(TestingServerBuilder) -> TestingServerBuilder>>,
    control_port: Option<u16>,
    control_stdin: bool,
    exit_on_stdin_close: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let port = |v: String| v.parse::<u16>().map_err(|_| format!("not a port: {v:?}"));
        match a.as_str() {
            "--port" => o.port = port(value()?)?,
            "--control-port" => o.control_port = Some(port(value()?)?),
            "--tick-time" | "--tick-ms" => {
                let d = parse_duration(&value()?, Unit::Millis)?;
                o.settings.push(Box::new(move |b| b.tick_time(d)));
            }
            "--min-session-timeout" => {
                let d = parse_duration(&value()?, Unit::Millis)?;
                o.settings.push(Box::new(move |b| b.min_session_timeout(d)));
            }
            "--max-session-timeout" => {
                let d = parse_duration(&value()?, Unit::Millis)?;
                o.settings.push(Box::new(move |b| b.max_session_timeout(d)));
            }
            "--container-check-interval" => {
                let d = parse_duration(&value()?, Unit::Millis)?;
                o.settings
                    .push(Box::new(move |b| b.container_check_interval(d)));
            }
            "--commit-latency" => {
                let d = parse_duration(&value()?, Unit::Micros)?;
                o.settings.push(Box::new(move |b| b.commit_latency(d)));
            }
            "--extended-types" => {
                let on = match value()?.as_str() {
                    "on" | "true" | "yes" => true,
                    "off" | "false" | "no" => false,
                    v => return Err(format!("--extended-types takes on or off, not {v:?}")),
                };
                o.settings.push(Box::new(move |b| b.extended_types(on)));
            }
            "--super-user" => {
                let v = value()?;
                let Some((user, password)) = v.split_once(':') else {
                    return Err("--super-user takes USER:PASSWORD".into());
                };
                let (user, password) = (user.to_string(), password.to_string());
                o.settings
                    .push(Box::new(move |b| b.super_user(&user, &password)));
            }
            "--realistic" => o.realistic = true,
            "--curator" => o.curator = true,
            "--control-stdin" => o.control_stdin = true,
            "--exit-on-stdin-close" => o.exit_on_stdin_close = true,
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let o = parse_args(args.into_iter()).unwrap_or_else(|why| {
        eprintln!("{why}\n{USAGE}");
        std::process::exit(2);
    });
    let mut builder = TestingServer::builder().port(o.port);
    if o.curator {
        builder = builder.curator_compatible();
    }
    if o.realistic {
        builder = builder.realistic();
    }
    for set in o.settings {
        builder = set(builder);
    }
    let server = match builder.start() {
        Ok(s) => Arc::new(s),
        Err(e) => fail(&format!("cannot start: {e}")),
    };
    let control = o.control_port.map(|p| {
        TcpListener::bind(("127.0.0.1", p))
            .unwrap_or_else(|e| fail(&format!("cannot listen on control port {p}: {e}")))
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", server.connect_string());
        if let Some(l) = &control {
            let addr = l.local_addr().unwrap_or_else(|e| fail(&e.to_string()));
            let _ = writeln!(out, "control {addr}");
        }
        let _ = out.flush();
    }

    let (exit, exits) = std::sync::mpsc::channel();
    if let Some(listener) = control {
        channel::port(Arc::clone(&server), listener, exit.clone())
            .unwrap_or_else(|e| fail(&format!("cannot start the control port: {e}")));
    }
    if o.control_stdin || o.exit_on_stdin_close {
        channel::stdin(
            Arc::clone(&server),
            o.control_stdin,
            o.exit_on_stdin_close,
            exit.clone(),
        )
        .unwrap_or_else(|e| fail(&format!("cannot read stdin: {e}")));
    }
    // Serves until a channel says to end (`exit` is kept, so without one this waits for a
    // signal, forever).
    let _why = exits.recv();
    drop(exit);
    server.stop();
    std::process::exit(0);
}

fn fail(why: &str) -> ! {
    eprintln!("testing-server: {why}");
    std::process::exit(1);
}

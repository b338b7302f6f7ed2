//! A standalone in-process ZooKeeper for any client in any language.
//!
//! ```text
//! cargo run --example testing-server -- [--port 2181] [--tick-ms 2000] [--exit-on-stdin-close]
//! ```
//!
//! Prints its connect string on stdout, then serves until it is stopped with Ctrl-C (SIGINT)
//! or `kill` (SIGTERM). stdin is not read, so it runs the same in the background, under a
//! script or in CI, where stdin is `/dev/null`:
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
//! With `--exit-on-stdin-close` it also stops, closing the server properly, when stdin reaches
//! end of file (the behaviour before this flag existed): a script can then tie the server's
//! life to its own by holding a pipe or fifo open on its stdin, so that the server goes
//! however the script ends.

use std::io::Read;
use std::time::Duration;

use zk_curator::testing::TestingServer;

const USAGE: &str = "usage: testing-server [--port N] [--tick-ms N] [--exit-on-stdin-close]";

fn main() {
    let mut args = std::env::args().skip(1);
    let mut builder = TestingServer::builder();
    let mut exit_on_stdin_close = false;
    while let Some(a) = args.next() {
        let mut num = || -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&format!("{a} needs a number")))
        };
        builder = match a.as_str() {
            "--port" => builder
                .port(u16::try_from(num()).unwrap_or_else(|_| usage("--port needs a port number"))),
            "--tick-ms" => builder.tick_time(Duration::from_millis(num())),
            "--exit-on-stdin-close" => {
                exit_on_stdin_close = true;
                builder
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            _ => usage(&format!("unexpected argument {a:?}")),
        };
    }
    let server = match builder.start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", server.connect_string());
    if !exit_on_stdin_close {
        // Serves until a signal ends the process (see the module docs).
        loop {
            std::thread::park();
        }
    }
    // Until stdin reaches end of file (or cannot be read).
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    server.close();
}

fn usage(why: &str) -> ! {
    eprintln!("{why}\n{USAGE}");
    std::process::exit(2);
}

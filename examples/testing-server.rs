//! A standalone in-process ZooKeeper for any client in any language.
//!
//! ```text
//! cargo run --example testing-server -- --port 2181 [--tick-ms 2000]
//! ```
//!
//! Prints its connect string and serves until stdin closes or the process is killed
//! (Ctrl-C). Catching SIGINT would need `unsafe` or another crate; neither is worth it for a
//! test tool, and killing the process stops it cleanly enough: all state is in memory.

use std::io::Read;
use std::time::Duration;

use zk_curator::testing::TestingServer;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut builder = TestingServer::builder();
    while let Some(a) = args.next() {
        let value = args.next();
        let num = || -> u64 {
            value
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage(&a))
        };
        builder = match a.as_str() {
            "--port" => builder.port(u16::try_from(num()).unwrap_or_else(|_| usage(&a))),
            "--tick-ms" => builder.tick_time(Duration::from_millis(num())),
            _ => usage(&a),
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
    // Block until stdin reaches EOF (or forever if stdin is not readable).
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin();
    loop {
        match stdin.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    server.close();
}

fn usage(arg: &str) -> ! {
    eprintln!("unexpected argument {arg:?}\nusage: testing-server [--port N] [--tick-ms N]");
    std::process::exit(2);
}

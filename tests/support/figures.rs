//! Figures for `docs/reliability.md`. A test that measures prints one line per measurement on
//! stderr, `ZK-FIGURE <row> <test> server=<kind> key=value ...`, so that a run collects them:
//!
//! ```text
//! ZK_REQUIRE_REAL=1 cargo test --test reliability_frames -- --nocapture 2>&1 | grep ZK-FIGURE
//! ```
//!
//! It also reads what the process holds (threads by name, descriptors, resident memory) from
//! `/proc/self`, for the "after close" and "RSS growth" columns.

use std::time::Duration;

use super::server::Kind;

/// Prints one figure line: `row` is the catalogue row (e.g. `8`), `test` the test's name.
pub fn figure(row: &str, test: &str, kind: Kind, pairs: &[(&str, String)]) {
    let server = match kind {
        Kind::Real => "real",
        Kind::InProcess => "in-process",
    };
    let mut line = format!("ZK-FIGURE {row} {test} server={server}");
    for (k, v) in pairs {
        line.push(' ');
        line.push_str(k);
        line.push('=');
        line.push_str(v);
    }
    eprintln!("{line}");
}

/// Milliseconds, for a figure.
pub fn ms(d: Duration) -> String {
    format!("{}", d.as_millis())
}

/// Threads of this process whose name starts with `prefix` (`zk-`: the crate's own).
pub fn threads_named(prefix: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|n| n.trim_end().starts_with(prefix))
        })
        .count()
}

/// Open file descriptors of this process.
pub fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Resident set size in KiB.
pub fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) spent so far by this process's threads whose name starts with
/// `prefix` and not with `except`, from `/proc/self/task/*/schedstat` (threads that already
/// exited are not counted).
pub fn cpu_of_threads(prefix: &str, except: &str) -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut ns = 0u64;
    for e in dir.filter_map(|e| e.ok()) {
        let name = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let name = name.trim_end();
        if !name.starts_with(prefix) || name.starts_with(except) {
            continue;
        }
        ns += std::fs::read_to_string(e.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
    }
    Duration::from_nanos(ns)
}

//! `counter-increment` and `counter-increment-atomic`: T clients (`--threads`, give 4), each
//! its own session, in one process, one thread each, incrementing one shared counter N
//! [2000] times in all (each thread takes a ticket before an increment), behind a barrier.
//!
//! * `counter-increment`: a `SharedCount`; one increment is a compare-and-set loop
//!   (`versioned_value`, `try_set_count(v, v + 1)`, again while refused).
//! * `counter-increment-atomic`: a `DistributedAtomicLong` with `RetryNTimes(100, 0)`; one
//!   increment is `increment()`, called again while it does not succeed.
//!
//! `ops` = N, `ops_per_sec` = increments per second, p50/p99 = time from starting an increment
//! to its success (waiting out the other T-1 clients included). Before the barrier each client
//! makes N/(10 T) untimed increments (at least one). `extra`: `clients`, `recipe`, `counter`
//! (how far the counter moved in the timed phase: must equal N, else the run fails),
//! `attempts` (compare-and-set attempts, failed ones included), `warmup_ops`. The Java twin
//! is `java/CounterBench.java`; `counter-vs-curator.sh` runs both against one ZooKeeper.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use zk_curator::framework::{CuratorFramework, RetryNTimes};
use zk_curator::recipes::atomic::DistributedAtomicLong;
use zk_curator::recipes::shared::SharedCount;

use crate::common::*;
use crate::curator::Ctx;

/// One client's handle on the counter.
enum Counter {
    Shared(SharedCount),
    Atomic(Box<DistributedAtomicLong>),
}

impl Counter {
    fn open(c: &CuratorFramework, path: &str, atomic: bool) -> Res<Counter> {
        Ok(if atomic {
            Counter::Atomic(Box::new(DistributedAtomicLong::new(
                c,
                path,
                RetryNTimes::new(100, Duration::ZERO),
            )?))
        } else {
            let s = SharedCount::new(c, path, 0)?;
            s.start()?;
            Counter::Shared(s)
        })
    }

    /// One increment, retried until it succeeds; returns the attempts it took.
    fn increment(&self) -> Res<u64> {
        let mut attempts = 0u64;
        match self {
            Counter::Shared(s) => loop {
                attempts += 1;
                let v = s.versioned_value()?;
                if s.try_set_count(&v, v.value() + 1)? {
                    return Ok(attempts);
                }
            },
            Counter::Atomic(a) => loop {
                let r = a.increment()?;
                attempts += u64::from(r.stats().optimistic_tries());
                if r.succeeded() {
                    return Ok(attempts);
                }
            },
        }
    }

    fn close(&self) {
        match self {
            Counter::Shared(s) => s.close(),
            Counter::Atomic(a) => a.close(),
        }
    }
}

/// The counter's value as the node holds it (4 or 8 bytes, big-endian; none is 0).
fn read_value(c: &CuratorFramework, path: &str) -> Res<i64> {
    let d = c.get_data().for_path(path)?;
    Ok(match d.len() {
        0 => 0,
        4 => i64::from(i32::from_be_bytes([d[0], d[1], d[2], d[3]])),
        8 => i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]),
        n => return fail(format!("the counter holds {n} bytes")),
    })
}

pub fn counter_increment(ctx: &Ctx, rep: &mut Report, atomic: bool) -> Res<()> {
    let n = ctx.args.ops_or(2000);
    let t = ctx.args.threads;
    let path = format!("{}/counter", ctx.root);
    let counters: Vec<Arc<Counter>> = (0..t)
        .map(|_| Ok(Arc::new(Counter::open(&ctx.client()?, &path, atomic)?)))
        .collect::<Res<_>>()?;
    let result = run(ctx, rep, &counters, &path, n);
    for c in &counters {
        c.close();
    }
    // The write markers' container goes once empty; do not leave it for the server's reaper.
    let _ = ctx.admin.delete().quietly().for_path("/zkc-cas-markers");
    rep.extra("clients", J::I(t as i64));
    rep.extra(
        "recipe",
        J::S(
            if atomic {
                "DistributedAtomicLong"
            } else {
                "SharedCount"
            }
            .into(),
        ),
    );
    result
}

fn run(ctx: &Ctx, rep: &mut Report, counters: &[Arc<Counter>], path: &str, n: usize) -> Res<()> {
    let t = counters.len();
    let warm_each = (n / 10 / t).max(1);
    let tickets = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let failure = Arc::new(Mutex::new(None::<String>));
    let ready = Arc::new(Barrier::new(t + 1));
    let go = Arc::new(Barrier::new(t + 1));
    let finished = Arc::new(Barrier::new(t + 1));
    let done = Arc::new(Barrier::new(t + 1));
    let last_end = Arc::new(Mutex::new(None::<Instant>));
    let mut threads = Vec::new();
    for c in counters {
        let (c, tickets, attempts, lat, failure) = (
            c.clone(),
            tickets.clone(),
            attempts.clone(),
            lat.clone(),
            failure.clone(),
        );
        let (ready, go, finished, done) =
            (ready.clone(), go.clone(), finished.clone(), done.clone());
        let last_end = last_end.clone();
        threads.push(std::thread::spawn(move || {
            let mut err = None;
            for _ in 0..warm_each {
                if let Err(e) = c.increment() {
                    err = Some(format!("{e:?}"));
                    break;
                }
            }
            ready.wait();
            go.wait();
            let mut mine = Vec::new();
            while err.is_none() && tickets.fetch_add(1, Ordering::Relaxed) < n {
                let t0 = Instant::now();
                match c.increment() {
                    Ok(a) => {
                        attempts.fetch_add(a, Ordering::Relaxed);
                        mine.push(nanos(t0.elapsed()));
                    }
                    Err(e) => err = Some(format!("{e:?}")),
                }
            }
            {
                let mut end = last_end.lock();
                let now = Instant::now();
                *end = Some(end.map_or(now, |e| e.max(now)));
            }
            lat.lock().extend(mine);
            if let Some(e) = err {
                failure.lock().get_or_insert(e);
            }
            finished.wait();
            // Alive until the CPU reading at the end of the phase.
            done.wait();
        }));
    }
    ready.wait();
    let before = read_value(&ctx.admin, path)?;
    let cpu = CpuMeter::start();
    let start = Instant::now();
    go.wait();
    finished.wait();
    let elapsed = last_end.lock().map_or(start.elapsed(), |e| e - start);
    let cpu_used = cpu.elapsed_others();
    done.wait();
    for th in threads {
        let _ = th.join();
    }
    if let Some(e) = failure.lock().take() {
        return fail(format!("an increment failed: {e}"));
    }
    let after = read_value(&ctx.admin, path)?;
    let mut lat = std::mem::take(&mut *lat.lock());
    rep.latencies(n, elapsed, &mut lat);
    rep.cpu(cpu_used, n);
    rep.extra("counter", J::I(after - before));
    rep.extra("attempts", J::I(attempts.load(Ordering::Relaxed) as i64));
    rep.extra("warmup_ops", J::I((warm_each * t) as i64));
    if after - before != n as i64 {
        return fail(format!(
            "inexact: the counter moved by {} for {n} increments",
            after - before
        ));
    }
    Ok(())
}

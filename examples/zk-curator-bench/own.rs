//! zk-curator's own workloads (same CLI and JSON line as those of bench/README.md):
//!
//! * `slow-watcher`: does one slow watcher, offloaded to a `WorkerPool`, delay anybody else?
//! * `restore-watches`: how long until 100,000 one-shot watches are back after a reconnect?
//! * `idle-footprint`: what do 1, 10 and 100 idle clients cost in memory, threads and CPU?

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use zk_curator::framework::{ConnectionState, CuratorFramework};
use zk_curator::{AddWatchMode, EventType, SharedWatcher, WatchedEvent, WorkerPool};

use crate::common::*;
use crate::curator::{
    child_paths, new_client, pipelined_creates, pipelined_deletes, pipelined_sets, Ctx, NO_NODE,
};
use crate::proxy::Proxy;

// ------------------------------------------------------------------------------ slow-watcher

/// Paths with a persistent watch each in `slow-watcher`; path 0 has the slow watcher.
const SLOW_PATHS: usize = 100;
/// What the slow watcher sleeps per event.
const SLOW_SLEEP: Duration = Duration::from_millis(50);
/// Worker threads of the pool the slow watcher is offloaded to.
const POOL_THREADS: usize = 2;

type Stamps = Arc<Vec<Mutex<Vec<Instant>>>>;

fn stamps(n: usize) -> Stamps {
    Arc::new((0..n).map(|_| Mutex::new(Vec::new())).collect())
}

/// Per path, the k-th event matches the k-th acknowledged write (one writer session, so
/// acks come in write order; persistent watches lose nothing, so events do too). Appends
/// event-minus-ack in ns to `signed`: negative when the event ran before B's callback saw
/// the ack (the server sends the notification before the reply to the writer).
fn match_latencies(events: &[Instant], acks: &[Instant], signed: &mut Vec<i64>) {
    for (e, a) in events.iter().zip(acks) {
        signed.push(if e >= a {
            nanos(e.duration_since(*a)) as i64
        } else {
            -(nanos(a.duration_since(*e)) as i64)
        });
    }
}

/// Nearest-rank percentile of a sorted slice of signed values.
fn percentile_signed(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// 100 paths with a persistent watch each; the watcher of path 0 runs on a `WorkerPool` and
/// sleeps 50 ms per event; client B writes all paths round robin, N [10000] writes pipelined.
/// `p50_us`/`p99_us`: write-ack-to-event latency of the other 99 paths' events; `secs`:
/// first write to the last of those events; `ops` = N events expected in all, `lost` = N −
/// delivered after the slow path drained (bounded).
///
/// A control phase then repeats the same writes with path 0's watcher offloaded the same way
/// but not sleeping (`extra.control_*`): the difference is what the slow watcher costs the
/// others; what both phases share is the cost of a saturated two-core machine.
pub fn slow_watcher(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, b) = (ctx.args, &ctx.admin);
    let n = args.ops_or(10_000);
    let dir = format!("{}/slow", ctx.root);
    b.create().for_path_with_data(&dir, b"")?;
    pipelined_creates(b, &dir, SLOW_PATHS, "p", b"0", args.inflight)?;
    pipelined_sets(b, &dir, "p", n / 10, SLOW_PATHS, b"0", args.inflight)?; // warm-up

    let slow = slow_phase(ctx, &dir, n, SLOW_SLEEP)?;
    let control = slow_phase(ctx, &dir, n, Duration::ZERO)?;

    let mut lat = slow.latencies();
    let us = |v: i64| J::F(round1(v as f64 / 1e3));
    rep.set("ops", J::I(n as i64));
    rep.set("secs", J::F(secs(slow.fast_in)));
    rep.set(
        "ops_per_sec",
        J::F(round1(
            slow.fast_got as f64 / slow.fast_in.as_secs_f64().max(1e-9),
        )),
    );
    rep.percentiles(&mut lat);
    rep.set(
        "lost",
        J::I(n as i64 - (slow.fast_got + slow.slow_got) as i64),
    );
    rep.cpu(slow.cpu, n);
    rep.extra("delivered", J::I((slow.fast_got + slow.slow_got) as i64));
    rep.extra("fast_events", J::I(slow.fast_got as i64));
    rep.extra("slow_path_events", J::I(slow.slow_got as i64));
    rep.extra("slow_path_expected", J::I(slow.slow_expected as i64));
    rep.extra(
        "slow_path_events_when_fast_done",
        J::I(slow.slow_when_fast_done as i64),
    );
    rep.extra("slow_path_secs", J::F(secs(slow.slow_in)));
    rep.extra(
        "slow_path_p50_us",
        us(percentile_signed(&slow.slow_signed, 0.5)),
    );
    rep.extra("events_before_ack", J::I(slow.early() as i64));
    rep.extra("signed_p50_us", us(percentile_signed(&slow.signed, 0.5)));
    rep.extra("signed_p99_us", us(percentile_signed(&slow.signed, 0.99)));
    rep.extra("writes_secs", J::F(secs(slow.writes)));
    let mut control_lat = control.latencies();
    control_lat.sort_unstable();
    let at = |q: f64| J::F(round1(percentile(&control_lat, q) as f64 / 1e3));
    rep.extra("control_p50_us", at(0.5));
    rep.extra("control_p99_us", at(0.99));
    rep.extra(
        "control_ops_per_sec",
        J::F(round1(
            control.fast_got as f64 / control.fast_in.as_secs_f64().max(1e-9),
        )),
    );
    rep.extra(
        "control_lost",
        J::I(n as i64 - (control.fast_got + control.slow_got) as i64),
    );
    rep.extra("slow_sleep_ms", J::I(SLOW_SLEEP.as_millis() as i64));
    rep.extra("pool_threads", J::I(POOL_THREADS as i64));
    rep.extra("paths", J::I(SLOW_PATHS as i64));
    pipelined_deletes(b, &child_paths(&dir, "p", SLOW_PATHS), args.inflight)
}

/// What one phase of `slow-watcher` saw.
struct SlowPhase {
    /// Event-minus-ack per event of the 99 fast paths, ns, sorted.
    signed: Vec<i64>,
    /// The same for path 0, sorted.
    slow_signed: Vec<i64>,
    fast_got: usize,
    slow_got: usize,
    slow_expected: usize,
    slow_when_fast_done: usize,
    fast_in: Duration,
    slow_in: Duration,
    writes: Duration,
    cpu: Duration,
}

impl SlowPhase {
    /// Delivery latency: an event that beat the ack counts as 0.
    fn latencies(&self) -> Vec<u64> {
        self.signed.iter().map(|v| (*v).max(0) as u64).collect()
    }

    fn early(&self) -> usize {
        self.signed.iter().filter(|v| **v < 0).count()
    }
}

/// Watches the 100 paths from a new client (path 0 offloaded to a pool, sleeping `sleep`
/// per event), writes them N times from the admin client, waits for the events.
fn slow_phase(ctx: &Ctx, dir: &str, n: usize, sleep: Duration) -> Res<SlowPhase> {
    let (b, k) = (&ctx.admin, ctx.args.inflight);
    let a = ctx.client()?;
    let per_path = |i: usize| n / SLOW_PATHS + usize::from(i < n % SLOW_PATHS);
    let slow_expected = per_path(0);
    let fast = Delivery::new(n - slow_expected);
    let slow = Delivery::new(slow_expected);
    let (events, acks) = (stamps(SLOW_PATHS), stamps(SLOW_PATHS));
    let pool = WorkerPool::new(POOL_THREADS)?;
    for i in 0..SLOW_PATHS {
        let ev = events.clone();
        let w: SharedWatcher = if i == 0 {
            let s = slow.clone();
            pool.offload(move |e: &WatchedEvent| {
                if e.event_type() == EventType::NodeDataChanged {
                    ev[0].lock().push(Instant::now());
                    s.hit();
                    if !sleep.is_zero() {
                        std::thread::sleep(sleep);
                    }
                }
            })
        } else {
            let f = fast.clone();
            SharedWatcher::new(move |e: &WatchedEvent| {
                if e.event_type() == EventType::NodeDataChanged {
                    ev[i].lock().push(Instant::now());
                    f.hit();
                }
            })
        };
        a.watchers()
            .add()
            .with_mode(AddWatchMode::Persistent)
            .using_shared_watcher(&w)
            .for_path(&format!("{dir}/p{i}"))?;
    }

    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    pipelined(n, k, |i, w| {
        let (p, acks) = (i % SLOW_PATHS, acks.clone());
        b.set_data()
            .in_background(move |_, e| {
                acks[p].lock().push(Instant::now());
                w.done(e.result_code());
            })
            .for_path(&format!("{dir}/p{p}"), i.to_string().as_bytes())
    })?;
    let writes = t0.elapsed();
    fast.wait(WAIT_EVENTS);
    let cpu = cpu.elapsed();
    let fast_in = fast.elapsed_since(t0);
    let slow_when_fast_done = slow.delivered();
    slow.wait(sleep * slow_expected as u32 + WAIT_EVENTS);
    let slow_in = slow.elapsed_since(t0);
    pool.shutdown();
    a.close();

    let mut signed = Vec::with_capacity(n);
    for i in 1..SLOW_PATHS {
        match_latencies(&events[i].lock(), &acks[i].lock(), &mut signed);
    }
    signed.sort_unstable();
    let mut slow_signed = Vec::new();
    match_latencies(&events[0].lock(), &acks[0].lock(), &mut slow_signed);
    slow_signed.sort_unstable();
    Ok(SlowPhase {
        signed,
        slow_signed,
        fast_got: fast.delivered(),
        slow_got: slow.delivered(),
        slow_expected,
        slow_when_fast_done,
        fast_in,
        slow_in,
        writes,
        cpu,
    })
}

// ------------------------------------------------------------------------------ restore-watches

/// When the client went Suspended / Reconnected.
#[derive(Default)]
struct StateTimes {
    times: Mutex<(Option<Instant>, Option<Instant>)>,
    cv: Condvar,
}

/// When A's watcher heard the node it waits for being created.
#[derive(Default)]
struct Fired {
    at: Mutex<Option<Instant>>,
    cv: Condvar,
}

/// Client A, connected through a proxy this process controls, sets W [100000] one-shot
/// exists watches on missing nodes (pipelined); then the proxy cuts the connection. A
/// reconnects at once (same session) and restores the watches with SetWatches. Measured
/// from the cut: `reconnected_ms` (Reconnected state), `restored_ms` (reply to a read A
/// sends after Reconnected: it goes out behind the SetWatches frames, and the server handles
/// one session's requests in order), then B creates the node of the last watch and
/// `secs` ends when A's watcher hears NodeCreated. `ops` = W.
pub fn restore_watches(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let args = ctx.args;
    let dir = format!("{}/rw", ctx.root);
    ctx.admin.create().for_path_with_data(&dir, b"")?;
    let proxy = Proxy::start(&args.connect)?;
    let result = ctx
        .client_at(&proxy.connect_string())
        .and_then(|a| restore_watches_on(ctx, rep, &a, &proxy, &dir));
    ctx.close_others();
    proxy.stop();
    result
}

fn restore_watches_on(
    ctx: &Ctx,
    rep: &mut Report,
    a: &CuratorFramework,
    proxy: &Proxy,
    dir: &str,
) -> Res<()> {
    let (args, b) = (ctx.args, &ctx.admin);
    let w = args.nodes_or(100_000);
    let k = args.inflight;
    let states = Arc::new(StateTimes::default());
    let st = states.clone();
    a.connection_state_listenable().add_listener(
        move |_: &CuratorFramework, s: ConnectionState| {
            let mut t = st.times.lock();
            match s {
                ConnectionState::Suspended => t.0 = Some(Instant::now()),
                ConnectionState::Reconnected => t.1 = Some(Instant::now()),
                _ => {}
            }
            st.cv.notify_all();
        },
    );
    let target = format!("{dir}/m{}", w - 1);
    let fired = Arc::new(Fired::default());
    let (f, t2) = (fired.clone(), target.clone());
    let watcher = SharedWatcher::new(move |e: &WatchedEvent| {
        if e.event_type() == EventType::NodeCreated && e.path() == Some(t2.as_str()) {
            *f.at.lock() = Some(Instant::now());
            f.cv.notify_all();
        }
    });
    let r0 = Instant::now();
    pipelined(w, k, |i, win| {
        a.check_exists()
            .using_shared_watcher(&watcher)
            .in_background(move |_, e| {
                let rc = e.result_code();
                win.finish(rc != 0 && rc != NO_NODE, rc)
            })
            .for_path(&format!("{dir}/m{i}"))
    })?;
    let register = r0.elapsed();
    let client_watches = a.zookeeper_client().zookeeper()?.watch_count();
    let server_before = server_watches(&args.connect);

    let cpu = CpuMeter::start();
    let cut_at = Instant::now();
    let cut = proxy.cut();
    let deadline = cut_at + Duration::from_secs(60);
    let (suspended, reconnected) = {
        let mut t = states.times.lock();
        while t.1.is_none() {
            if states.cv.wait_until(&mut t, deadline).timed_out() && t.1.is_none() {
                return fail("no Reconnected within 60 s of the cut");
            }
        }
        (t.0, t.1.unwrap_or(cut_at))
    };
    a.check_exists().for_path(dir)?;
    let restored = Instant::now();
    let created = Instant::now();
    b.create().for_path_with_data(&target, b"")?;
    let event_at = {
        let deadline = Instant::now() + WAIT_EVENTS;
        let mut at = fired.at.lock();
        while at.is_none() {
            if fired.cv.wait_until(&mut at, deadline).timed_out() && at.is_none() {
                break;
            }
        }
        *at
    };
    let cpu = cpu.elapsed();
    let Some(event_at) = event_at else {
        rep.set("lost", J::I(1));
        return fail("the watch on the created node did not fire after the reconnect");
    };
    let server_after = server_watches(&args.connect);
    let since_cut = |t: Instant| J::F(round1(t.duration_since(cut_at).as_secs_f64() * 1e3));
    let elapsed = event_at.duration_since(cut_at);
    rep.set("ops", J::I(w as i64));
    rep.set("secs", J::F(secs(elapsed)));
    rep.set(
        "ops_per_sec",
        J::F(round1(w as f64 / elapsed.as_secs_f64().max(1e-9))),
    );
    rep.set("lost", J::I(0));
    rep.cpu(cpu, w);
    if let Some(s) = suspended {
        rep.extra("suspended_ms", since_cut(s));
    }
    rep.extra("reconnected_ms", since_cut(reconnected));
    rep.extra("restored_ms", since_cut(restored));
    rep.extra(
        "create_to_event_ms",
        J::F(round1(event_at.duration_since(created).as_secs_f64() * 1e3)),
    );
    rep.extra("register_secs", J::F(secs(register)));
    rep.extra("client_watches", J::I(client_watches as i64));
    if let (Some(before), Some(after)) = (server_before, server_after) {
        rep.extra("server_watches_before", J::I(before));
        rep.extra("server_watches_after", J::I(after));
    }
    rep.extra("connections_cut", J::I(cut as i64));
    rep.extra("via", J::S("in-process proxy".into()));
    Ok(())
}

/// The server's total watch count (`wchs`), if four-letter words are allowed.
fn server_watches(connect: &str) -> Option<i64> {
    let host = connect.split(',').next()?;
    let addr = host.to_socket_addrs().ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"wchs").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Total watches:"))
        .and_then(|v| v.trim().parse().ok())
}

// ------------------------------------------------------------------------------ idle-footprint

/// How long the clients sit idle before a measurement, and the idle window measured.
const SETTLE: Duration = Duration::from_millis(500);
const IDLE_WINDOW: Duration = Duration::from_secs(2);

/// RSS, threads and idle CPU with 1, 10 and 100 connected idle clients in this process (no
/// admin client, no tree). `ops` = 100 clients; `cpu_us_per_op` = CPU per client over the
/// 2 s idle window with 100 clients (the main thread, which only sleeps and reads the
/// meter, is left out).
pub fn idle_footprint(args: &Args, rep: &mut Report) -> Res<()> {
    let mut clients: Vec<CuratorFramework> = Vec::new();
    let result = idle_footprint_with(args, rep, &mut clients);
    for c in clients.iter().rev() {
        c.close();
    }
    result
}

fn idle_footprint_with(
    args: &Args,
    rep: &mut Report,
    clients: &mut Vec<CuratorFramework>,
) -> Res<()> {
    rep.extra("rss_kb_0", J::I(rss_kb()));
    rep.extra("threads_0", J::I(thread_count()));
    let mut last = (Duration::ZERO, Duration::ZERO, 0usize);
    let mut at_10 = (0i64, 0i64);
    for target in [1usize, 10, 100] {
        let c0 = Instant::now();
        while clients.len() < target {
            clients.push(new_client(&args.connect)?);
        }
        let connect = c0.elapsed();
        std::thread::sleep(SETTLE);
        let cpu = CpuMeter::start();
        let t = Instant::now();
        std::thread::sleep(IDLE_WINDOW);
        let (window, cpu) = (t.elapsed(), cpu.elapsed_others());
        let (rss, threads) = (rss_kb(), thread_count());
        rep.extra(format!("rss_kb_{target}"), J::I(rss));
        rep.extra(format!("threads_{target}"), J::I(threads));
        rep.extra(
            format!("idle_cpu_us_per_client_{target}"),
            J::F(round2(cpu.as_nanos() as f64 / 1e3 / target as f64)),
        );
        rep.extra(format!("connect_secs_{target}"), J::F(secs(connect)));
        if target == 10 {
            at_10 = (rss, threads);
        }
        if target == 100 {
            rep.extra(
                "kb_per_client_10_to_100",
                J::F(round1((rss - at_10.0) as f64 / 90.0)),
            );
            rep.extra(
                "threads_per_client_10_to_100",
                J::F(round2((threads - at_10.1) as f64 / 90.0)),
            );
        }
        last = (window, cpu, target);
    }
    let (window, cpu, n) = last;
    rep.set("ops", J::I(n as i64));
    rep.set("secs", J::F(secs(window)));
    rep.cpu(cpu, n);
    rep.extra("idle_window_secs", J::F(secs(IDLE_WINDOW)));
    Ok(())
}

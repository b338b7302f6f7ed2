//! `queue-throughput` (issue 18): one producer and one consumer, each its own client
//! (session), sharing one `DistributedQueue` as two processes would; items/s end to end.
//!
//! The consumer (no lock path: Curator's default, at most once) starts first and waits on
//! the empty queue. It is built with an explicit `prefetch(PREFETCH)` (16: up to 16 items
//! read and deleted ahead of the consumer, pipelined), the setting every recorded figure of
//! this workload used, so that they stay comparable now that the library's default is 1
//! (Curator's one item at a time); `extra.prefetch` records it. `ZK_BENCH_QUEUE_PREFETCH=N`
//! measures another setting (1: the library's default, Curator's loss bound). The producer then puts N [10000] items of `--size` [100] bytes with
//! Curator's default background puts, as fast as it can. `secs` runs from the first put to
//! the last item consumed; `ops_per_sec` = N / secs; p50/p99 are each item's time from its
//! put call to its consumption (the first 8 bytes carry the put time). `extra.put_secs` is
//! the producer's own time, `extra.lost` items that never arrived (must be 0). An untimed
//! round of N/10 items through another queue warms both sides up first.
//!
//! `java/QueueThroughput.java` is the same workload through Apache Curator 5.4;
//! `queue-throughput.sh` runs both against one real ZooKeeper.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::queue::{consumer_fn, BytesSerializer, QueueBuilder};

use crate::common::*;
use crate::curator::Ctx;

/// How long the consumer may lag behind the last put.
const DRAIN: Duration = Duration::from_secs(120);
/// Items the consumer reads and deletes ahead of itself (`QueueBuilder::prefetch`): the
/// library's default in 0.1.0, kept here so that the recorded figures stay comparable.
const PREFETCH: usize = 16;

/// The prefetch of this run: `ZK_BENCH_QUEUE_PREFETCH` if set (at least 1), else
/// [`PREFETCH`].
fn prefetch() -> Res<usize> {
    match std::env::var("ZK_BENCH_QUEUE_PREFETCH") {
        Err(_) => Ok(PREFETCH),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => fail(format!("ZK_BENCH_QUEUE_PREFETCH: not a count >= 1: {v:?}")),
        },
    }
}

struct Round {
    elapsed: Duration,
    put: Duration,
    delivered: usize,
    lat: Vec<u64>,
}

pub fn throughput(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let args = ctx.args;
    let n = args.ops_or(10_000);
    let size = args.size.max(8);
    let prefetch = prefetch()?;
    let producer = ctx.client()?;
    let consumer = ctx.client()?;
    let warm = (n / 10).max(100);
    round(
        &producer,
        &consumer,
        &format!("{}/warm", ctx.root),
        warm,
        size,
        prefetch,
    )?; // untimed
    let cpu = CpuMeter::start();
    let mut r = round(
        &producer,
        &consumer,
        &format!("{}/queue", ctx.root),
        n,
        size,
        prefetch,
    )?;
    rep.cpu(cpu.elapsed(), n);
    rep.latencies(n, r.elapsed, &mut r.lat);
    rep.set("lost", J::I(n as i64 - r.delivered as i64));
    rep.extra("put_secs", J::F(secs(r.put)));
    rep.extra("size", J::I(size as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    rep.extra("prefetch", J::I(prefetch as i64));
    rep.extra(
        "recipe",
        J::S(format!(
            "DistributedQueue, background puts, no lock path, prefetch {prefetch}"
        )),
    );
    if r.delivered < n {
        return fail(format!("only {} of {n} items arrived", r.delivered));
    }
    Ok(())
}

fn round(
    producer: &CuratorFramework,
    consumer: &CuratorFramework,
    path: &str,
    n: usize,
    size: usize,
    prefetch: usize,
) -> Res<Round> {
    let base = Instant::now();
    let delivery = Delivery::new(n);
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let (d, l) = (delivery.clone(), lat.clone());
    let cq = QueueBuilder::builder(
        consumer,
        consumer_fn(move |item: Vec<u8>| {
            let now = nanos(base.elapsed());
            let sent = item
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(now);
            l.lock().push(now.saturating_sub(sent));
            d.hit();
            Ok(())
        }),
        BytesSerializer,
        path,
    )
    .prefetch(prefetch)
    .build_queue()?;
    cq.start()?;
    let pq = QueueBuilder::producer(producer, BytesSerializer, path).build_queue()?;
    pq.start()?;
    let mut item = payload(size);
    let t0 = Instant::now();
    for _ in 0..n {
        item[..8].copy_from_slice(&nanos(base.elapsed()).to_be_bytes());
        pq.put(item.clone())?;
    }
    if !pq.flush_puts(DRAIN) {
        return fail("background puts did not complete");
    }
    let put = t0.elapsed();
    delivery.wait(DRAIN);
    let elapsed = delivery.elapsed_since(t0);
    pq.close();
    cq.close();
    let lat = std::mem::take(&mut *lat.lock());
    Ok(Round {
        elapsed,
        put,
        delivered: delivery.delivered(),
        lat,
    })
}

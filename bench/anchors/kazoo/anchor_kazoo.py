#!/usr/bin/python3
"""The bench/ anchor harness for kazoo (Python), run by Debian's python3-kazoo.

  run.sh --connect HOST:PORT --workload NAME [--ops N] [--threads T] [--inflight K]
         [--nodes W] [--size BYTES]

One JSON line on stdout; exit 0 (also when kazoo cannot do the workload), 1 with an "error"
field, 2 on bad usage. bench/README.md defines the workloads. Synchronous calls are kazoo's
plain methods; pipelining uses the *_async methods and rawlink callbacks, bounded by a
semaphore; the recipes are TreeCache, Lock and Election.
"""

import argparse
import json
import math
import os
import sys
import threading
import time

import kazoo
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.protocol.states import EventType
from kazoo.recipe.cache import TreeCache, TreeEvent


def _kazoo_version():
    try:
        from importlib.metadata import version
        return version("kazoo").replace(".dev0", "")  # Debian's build says 2.8.0.dev0
    except Exception:
        return getattr(kazoo, "__version__", "unknown")


KAZOO_VERSION = _kazoo_version()
CLIENT = "kazoo-" + KAZOO_VERSION

WARMUP_NS = 3_000_000_000  # a warm-up lasts at least 3 s (and at least N/10 operations)
EVENT_GRACE = 30.0  # wait for missing events after the writer's last reply
RECIPE_LIMIT = 60.0  # longest lock acquisition or leader hand-over before the run fails
LEADER_RECHECK = 0.0001  # how often a waiting main thread re-reads the leadership flags

WORKLOADS = (
    "get-sync", "get-threads", "get-pipelined", "create-delete", "watch-fanout",
    "persistent-recursive", "cache-load", "lock-uncontended", "lock-contended", "leader-failover",
)

clock = time.perf_counter_ns


class Unsupported(Exception):
    """kazoo cannot do this workload; the JSON line says why."""


class Warmup:
    """The untimed warm-up: `while w.more(1): op()`."""

    def __init__(self, min_ops):
        self.start = clock()
        self.min_ops = min_ops
        self.done = 0

    def more(self, step):
        if self.done >= self.min_ops and clock() - self.start >= WARMUP_NS:
            return False
        self.done += step
        return True


def secs(ns):
    return round(ns / 1e9, 6)


def percentile(ascending, q):
    """Nearest-rank percentile (0 when empty)."""
    if not ascending:
        return 0
    rank = math.ceil(q * len(ascending))
    return ascending[min(len(ascending), max(1, rank)) - 1]


def rss_kib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Inflight:
    """At most k asynchronous requests in flight; wait() raises if any failed."""

    def __init__(self, k, n):
        self.permits = threading.Semaphore(max(1, k))
        self.guard = threading.Lock()
        self.left = n
        self.failures = 0
        self.first_failure = None
        self.all_done = threading.Event()
        if n == 0:
            self.all_done.set()

    def issue(self, start, then=None):
        """Takes a permit, starts a request (start() returns its IAsyncResult) and links its end."""
        self.permits.acquire()
        result = start()

        def finished(res):
            if then is not None:
                then(res)
            with self.guard:
                if not res.successful():
                    self.failures += 1
                    if self.first_failure is None:
                        self.first_failure = res.exception
                self.left -= 1
                last = self.left == 0
            self.permits.release()
            if last:
                self.all_done.set()

        result.rawlink(finished)

    def wait(self, seconds=300):
        if not self.all_done.wait(seconds):
            raise RuntimeError("asynchronous requests still running after %d s" % seconds)
        if self.failures:
            raise RuntimeError("%d asynchronous requests failed, first: %r" % (self.failures, self.first_failure))


class Arrivals:
    """Counts expected events and remembers when the last one arrived."""

    def __init__(self, expected):
        self.expected = expected
        self.count = 0
        self.last = 0
        self.guard = threading.Lock()
        self.all_in = threading.Event()

    def arrive(self):
        with self.guard:
            self.count += 1
            self.last = clock()
            if self.count >= self.expected:
                self.all_in.set()

    def wait(self, grace):
        self.all_in.wait(grace)
        with self.guard:
            return self.count

    def span_from(self, t0):
        with self.guard:
            return (self.last if self.count else clock()) - t0


class Run:
    """One run: options, root znode, result line and the sessions it opened."""

    def __init__(self, opts):
        self.opts = opts
        self.root = "/bench-%d" % os.getpid()
        self.fields = {"client": CLIENT, "workload": opts.workload}
        self.extra = {}
        self.sessions = []

    def session(self):
        zk = KazooClient(hosts=self.opts.connect, timeout=30.0)
        self.sessions.append(zk)
        zk.start(timeout=15)
        return zk

    @staticmethod
    def close(zk):
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass

    def timed(self, n, elapsed_ns, lat):
        lat.sort()
        self.fields.update(
            ops=n,
            secs=secs(elapsed_ns),
            ops_per_sec=round(n / max(elapsed_ns / 1e9, 1e-9), 1),
            p50_us=round(percentile(lat, 0.50) / 1e3, 1),
            p99_us=round(percentile(lat, 0.99) / 1e3, 1),
        )

    def events(self, expected, delivered, elapsed_ns):
        self.fields.update(
            ops=expected,
            secs=secs(elapsed_ns),
            ops_per_sec=round(delivered / max(elapsed_ns / 1e9, 1e-9), 1),
            lost=expected - delivered,
        )
        self.extra["delivered"] = delivered

    def windowed(self, n, start, then=None, seconds=300):
        w = Inflight(self.opts.inflight, n)
        for i in range(n):
            w.issue(lambda i=i: start(i), then)
        w.wait(seconds)

    def make_children(self, zk, parent, prefix, n, data):
        self.windowed(n, lambda i: zk.create_async("%s/%s%d" % (parent, prefix, i), data))

    def remove_tree(self, zk, top):
        """Deletes top and everything below it, deepest level first, each level pipelined."""
        levels = [[top]]
        while True:
            below = []
            for p in levels[-1]:
                try:
                    below.extend("%s/%s" % (p, kid) for kid in zk.get_children(p))
                except NoNodeError:
                    pass
            if not below:
                break
            levels.append(below)
        for level in reversed(levels):
            w = Inflight(1000, len(level))
            for p in level:
                w.issue(lambda p=p: zk.delete_async(p))
            try:
                w.wait()
            except RuntimeError:
                pass  # a node already gone is what we wanted

    def line(self):
        out = dict(self.fields)
        if self.extra:
            out["extra"] = self.extra
        return json.dumps(out, separators=(",", ":"))


# ---------------------------------------------------------------------- request workloads

def get_sync(run, zk):
    n = run.opts.ops or 20000
    node = run.root + "/node"
    zk.create(node, b"x" * run.opts.size)
    warm = Warmup(n // 10)
    while warm.more(1):
        zk.get(node)
    lat = [0] * n
    t0 = clock()
    for i in range(n):
        s = clock()
        data, _ = zk.get(node)
        lat[i] = clock() - s
        if len(data) != run.opts.size:
            raise RuntimeError("read %d bytes, wrote %d" % (len(data), run.opts.size))
    run.timed(n, clock() - t0, lat)
    run.extra.update(size=run.opts.size, warmup_ops=warm.done)


def get_threads(run, zk):
    n = run.opts.ops or 20000
    t = run.opts.threads or 8
    node = run.root + "/node"
    zk.create(node, b"x" * run.opts.size)
    gate = threading.Barrier(t + 1)
    per_thread = [[] for _ in range(t)]
    failures = []

    def worker(k):
        share = n // t + (1 if k < n % t else 0)
        try:
            warm = Warmup(share // 10)
            while warm.more(1):
                zk.get(node)
        except Exception as e:
            failures.append(e)
        gate.wait()  # reached even after a failure, so nobody waits forever
        if failures:
            return
        try:
            for _ in range(share):
                s = clock()
                zk.get(node)
                per_thread[k].append(clock() - s)
        except Exception as e:
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(t)]
    for th in threads:
        th.start()
    gate.wait()
    t0 = clock()
    for th in threads:
        th.join()
    elapsed = clock() - t0
    if failures:
        raise RuntimeError("a thread failed: %r" % failures[0])
    run.timed(n, elapsed, [x for lat in per_thread for x in lat])
    run.extra["threads"] = t


def get_pipelined(run, zk):
    n = run.opts.ops or 100000
    node = run.root + "/node"
    zk.create(node, b"x" * run.opts.size)
    chunk = max(1, n // 10)
    warm = Warmup(n // 10)
    while warm.more(chunk):
        run.windowed(chunk, lambda i: zk.get_async(node))
    lat = [0] * n
    issued = [0] * n

    def start(i):
        issued[i] = clock()
        result = zk.get_async(node)
        result.rawlink(lambda _res, i=i: lat.__setitem__(i, clock() - issued[i]))
        return result

    t0 = clock()
    run.windowed(n, start)
    run.timed(n, clock() - t0, lat)
    run.extra.update(inflight=run.opts.inflight, warmup_ops=warm.done)


def create_delete(run, zk):
    n = run.opts.ops or 5000
    data = b"x" * run.opts.size
    warm = Warmup(n // 10)
    while warm.more(1):
        p = "%s/warm%d" % (run.root, warm.done)
        zk.create(p, data)
        zk.delete(p)
    lat = [0] * n
    t0 = clock()
    for i in range(n):
        p = "%s/cd%d" % (run.root, i)
        s = clock()
        zk.create(p, data)
        zk.delete(p)
        lat[i] = clock() - s
    run.timed(n, clock() - t0, lat)
    run.extra.update(requests=2 * n, unit="create+delete pair", warmup_ops=warm.done)


# ---------------------------------------------------------------------- watch workloads

def watch_fanout(run, b):
    w = run.opts.nodes or 10000
    d = run.root + "/fan"
    b.create(d)
    data = b"x" * run.opts.size
    run.make_children(b, d, "n", w, data)
    a = run.session()
    run.windowed(w, lambda i: b.set_async("%s/n%d" % (d, i), data))  # B's warm-up pass

    arrivals = Arrivals(w)

    def watcher(ev):
        if ev.type == EventType.CHANGED:
            arrivals.arrive()

    r0 = clock()
    run.windowed(w, lambda i: a.get_async("%s/n%d" % (d, i), watch=watcher))
    register = clock() - r0
    changed = b"1" + data[1:]
    t0 = clock()
    run.windowed(w, lambda i: b.set_async("%s/n%d" % (d, i), changed))
    writes = clock() - t0
    got = arrivals.wait(EVENT_GRACE)
    run.events(w, got, arrivals.span_from(t0))
    run.extra.update(register_secs=secs(register), writes_secs=secs(writes), writer="pipelined")
    run.close(a)


def persistent_recursive(run, b):
    # kazoo has no call that sends ZooKeeper's addWatch (persistent and persistent-recursive
    # watches): not in Debian's 2.8 nor in 2.11 on PyPI when this was written.
    if not hasattr(KazooClient, "add_watch"):
        raise Unsupported("kazoo %s has no addWatch (persistent/recursive watch) API" % KAZOO_VERSION)
    raise Unsupported("kazoo %s has add_watch, which this harness does not drive yet" % KAZOO_VERSION)


def cache_load(run, b):
    w = run.opts.nodes or 20000
    d = run.root + "/cache"
    b.create(d)
    run.make_children(b, d, "n", w, b"x" * run.opts.size)
    a = run.session()
    rss_before = rss_kib()
    initialized = threading.Event()
    t0 = clock()
    cache = TreeCache(a, d)
    cache.listen(lambda ev: initialized.set() if ev.event_type == TreeEvent.INITIALIZED else None)
    cache.start()
    if not initialized.wait(300):
        raise RuntimeError("the cache did not initialize within 300 s")
    elapsed = clock() - t0
    rss = rss_kib()
    cached = len(cache.get_children(d) or [])
    cache.close()
    run.close(a)
    if cached != w:
        raise RuntimeError("the cache initialized with %d of %d children" % (cached, w))
    run.fields.update(ops=w, secs=secs(elapsed), ops_per_sec=round(w / (elapsed / 1e9), 1))
    run.extra.update(rss_kb=rss, rss_before_kb=rss_before, cached_nodes=cached, size=run.opts.size,
                     recipe="TreeCache")


# ---------------------------------------------------------------------- recipe workloads

def acquire(lock):
    if not lock.acquire(timeout=RECIPE_LIMIT):
        raise RuntimeError("lock not acquired within %d s" % RECIPE_LIMIT)


def lock_uncontended(run, zk):
    n = run.opts.ops or 2000
    lock = zk.Lock(run.root + "/lock", "bench")
    warm = Warmup(n // 10)
    while warm.more(1):
        acquire(lock)
        lock.release()
    lat = [0] * n
    t0 = clock()
    for i in range(n):
        s = clock()
        acquire(lock)
        lock.release()
        lat[i] = clock() - s
    run.timed(n, clock() - t0, lat)
    run.extra.update(unit="acquire+release pair", recipe="Lock", warmup_ops=warm.done)


def lock_contended(run, admin):
    n = run.opts.ops or 1000
    t = run.opts.threads or 4
    path = run.root + "/lock"
    locks = []
    for k in range(t):
        lock = run.session().Lock(path, "c%d" % k)
        acquire(lock)  # untimed; also makes the lock's parent
        lock.release()
        locks.append(lock)
    state = {"tickets": n, "holders": 0, "violations": 0}
    counter = [0]  # guarded by the ZooKeeper lock alone
    referee = threading.Lock()
    lat = []
    failures = []
    gate = threading.Barrier(t + 1)

    def contend(lock):
        gate.wait()
        try:
            while not failures:
                with referee:
                    if state["tickets"] <= 0:
                        return
                    state["tickets"] -= 1
                s = clock()
                acquire(lock)
                holding = clock()
                with referee:
                    state["holders"] += 1
                    if state["holders"] != 1:
                        state["violations"] += 1
                value = counter[0]
                counter[0] = value + 1
                with referee:
                    state["holders"] -= 1
                lock.release()
                lat.append(holding - s)
        except Exception as e:
            failures.append(e)

    threads = [threading.Thread(target=contend, args=(lock,)) for lock in locks]
    for th in threads:
        th.start()
    gate.wait()
    t0 = clock()
    for th in threads:
        th.join()
    elapsed = clock() - t0
    if failures:
        raise RuntimeError("a lock client failed: %r" % failures[0])
    run.timed(n, elapsed, lat)
    run.extra.update(violations=state["violations"], clients=t, counter=counter[0],
                     unit="acquisition (p50/p99: request to holding)", recipe="Lock")


class Participant:
    """One Election participant: a thread in election.run(lead). kazoo's Election has no
    leadership flag or listener, so `lead` keeps one and waits until told to step down."""

    def __init__(self, zk, path, name, woken):
        self.election = zk.Election(path, name)
        self.leading = False
        self.woken = woken
        self.step_down = threading.Event()
        self.thread = threading.Thread(target=self.election.run, args=(self.lead,), daemon=True)
        self.thread.start()

    def lead(self):
        self.leading = True
        self.woken.set()
        self.step_down.wait()
        self.leading = False

    def leave(self):
        """Steps down (lead returns, run releases its lock node) or stops contending."""
        self.leading = False
        self.step_down.set()
        self.election.cancel()

    def join(self):
        self.thread.join(RECIPE_LIMIT)


def leader_failover(run, admin):
    n = run.opts.ops or 50
    t = run.opts.threads or 3
    if t < 2:
        raise RuntimeError("leader-failover needs --threads 2 or more")
    path = run.root + "/election"
    woken = threading.Event()
    sessions = [run.session() for _ in range(t)]
    parts = [Participant(sessions[k], path, "p%d" % k, woken) for k in range(t)]
    stop = threading.Event()
    seen = {"doubles": 0, "looks": 0}

    def double_leader_watch():
        while not stop.is_set():
            if sum(1 for p in parts if p.leading) > 1:
                seen["doubles"] += 1
            seen["looks"] += 1
            time.sleep(0.001)

    def await_new_leader(exclude):
        deadline = time.monotonic() + RECIPE_LIMIT
        while True:
            woken.clear()
            leaders = [k for k, p in enumerate(parts) if p.leading]
            if len(leaders) == 1 and leaders[0] != exclude:
                return leaders[0]
            if time.monotonic() > deadline:
                raise RuntimeError("no single new leader within %d s" % RECIPE_LIMIT)
            woken.wait(LEADER_RECHECK)

    def await_contenders():
        deadline = time.monotonic() + RECIPE_LIMIT
        while len(admin.get_children(path)) != t:
            if time.monotonic() > deadline:
                raise RuntimeError("the stepped-down participant did not rejoin")
            time.sleep(0.001)

    watch = threading.Thread(target=double_leader_watch, daemon=True)
    watch.start()
    try:
        await_new_leader(None)
        await_contenders()
        lat = [0] * n
        l0 = clock()
        for i in range(n):
            k = await_new_leader(None)
            s = clock()
            parts[k].leave()
            await_new_leader(k)
            lat[i] = clock() - s
            parts[k].join()
            parts[k] = Participant(sessions[k], path, "p%d" % k, woken)  # rejoin, untimed
            await_contenders()
        loop = clock() - l0
        run.timed(n, sum(lat), lat)
        run.extra.update(double_leaders=seen["doubles"], polls=seen["looks"], participants=t,
                         loop_secs=secs(loop), unit="failover (secs: sum of hand-overs)", recipe="Election")
    finally:
        stop.set()
        watch.join(1)
        for p in parts:
            p.leave()
        for p in parts:
            p.join()


# ---------------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connect", default="127.0.0.1:2181")
    p.add_argument("--workload", required=True, choices=WORKLOADS)
    for count in ("--ops", "--threads", "--nodes"):
        p.add_argument(count, type=int)  # left out: the workload's default
    p.add_argument("--inflight", type=int, default=1000)
    p.add_argument("--size", type=int, default=100)
    opts = p.parse_args()
    for name in ("ops", "threads", "nodes", "inflight", "size"):
        if getattr(opts, name) is not None and getattr(opts, name) < 1:
            p.error("--%s wants a positive whole number" % name)

    workload = globals()[opts.workload.replace("-", "_")]
    run = Run(opts)
    failure = None  # the first one: a failed cleanup must not hide its cause
    try:
        if workload is persistent_recursive:
            workload(run, None)  # says why before it connects
        admin = run.session()
        admin.create(run.root)
        try:
            workload(run, admin)
        except Unsupported:
            raise
        except Exception as e:
            failure = e
        for zk in run.sessions[1:]:
            run.close(zk)
        try:
            run.remove_tree(admin, run.root)
        except Exception as e:
            failure = failure or e
    except Unsupported as e:
        run.fields["unsupported"] = str(e)
    except Exception as e:
        failure = e
    finally:
        for zk in run.sessions:
            run.close(zk)
    code = 0
    if failure is not None:
        run.fields["error"] = repr(failure)
        code = 1
    print(run.line(), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

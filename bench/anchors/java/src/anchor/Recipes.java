package anchor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;

/** The recipe workloads: lock-uncontended, lock-contended, leader-failover. */
final class Recipes {
    private Recipes() { }

    private static void acquire(InterProcessMutex m) throws Exception {
        if (!m.acquire(Measure.RECIPE_LIMIT_NS, TimeUnit.NANOSECONDS))
            throw new IllegalStateException("lock not acquired within " + Measure.secs(Measure.RECIPE_LIMIT_NS) + " s");
    }

    /** One op is an acquire and a release of an InterProcessMutex nobody else wants. */
    static void lockUncontended(Run r, CuratorFramework c) throws Exception {
        int n = r.opts.opsOr(2_000);
        InterProcessMutex mutex = new InterProcessMutex(c, r.root + "/lock");
        Measure.Warmup warm = new Measure.Warmup(n / 10);
        while (warm.more(1)) {
            acquire(mutex);
            mutex.release();
        }
        long[] lat = new long[n];
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            acquire(mutex);
            mutex.release();
            lat[i] = System.nanoTime() - s;
        }
        r.line.timed(n, System.nanoTime() - t0, lat);
        r.line.extra("unit", "acquire+release pair");
        r.line.extra("recipe", "InterProcessMutex");
        r.line.extra("warmup_ops", warm.done());
    }

    /**
     * T sessions, one thread each, share N acquisitions of one mutex. Inside each critical
     * section the thread checks that it is the only holder and bumps an unguarded counter.
     */
    static void lockContended(Run r, CuratorFramework admin) throws Exception {
        int n = r.opts.opsOr(1_000);
        int t = r.opts.threadsOr(4);
        String path = r.root + "/lock";
        InterProcessMutex[] mutexes = new InterProcessMutex[t];
        for (int k = 0; k < t; k++) {
            mutexes[k] = new InterProcessMutex(r.session(), path);
            acquire(mutexes[k]); // untimed; also makes the lock's parent
            mutexes[k].release();
        }
        AtomicInteger tickets = new AtomicInteger(n);
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger violations = new AtomicInteger();
        long[] counter = new long[1]; // guarded by the ZooKeeper lock alone
        long[] lat = new long[n];
        AtomicInteger filled = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CyclicBarrier gate = new CyclicBarrier(t + 1);
        CountDownLatch finished = new CountDownLatch(t);
        for (int k = 0; k < t; k++) {
            InterProcessMutex m = mutexes[k];
            new Thread(() -> {
                try {
                    gate.await();
                    while (failure.get() == null && tickets.getAndDecrement() > 0) {
                        long s = System.nanoTime();
                        acquire(m);
                        long holding = System.nanoTime();
                        if (holders.incrementAndGet() != 1) violations.incrementAndGet();
                        counter[0]++;
                        holders.decrementAndGet();
                        m.release();
                        lat[filled.getAndIncrement()] = holding - s;
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    finished.countDown();
                }
            }, "lock-" + k).start();
        }
        gate.await();
        long t0 = System.nanoTime();
        finished.await();
        long elapsed = System.nanoTime() - t0;
        if (failure.get() != null) throw new IllegalStateException("a lock client failed: " + failure.get());
        r.line.timed(n, elapsed, lat);
        r.line.extra("violations", violations.get());
        r.line.extra("clients", t);
        r.line.extra("counter", counter[0]);
        r.line.extra("unit", "acquisition (p50/p99: request to holding)");
        r.line.extra("recipe", "InterProcessMutex");
    }

    /** A LeaderLatch whose listener wakes the main thread when it gains leadership. */
    private static LeaderLatch join(CuratorFramework c, String path, int k, Thread main) throws Exception {
        LeaderLatch latch = new LeaderLatch(c, path, "p" + k);
        latch.addListener(new LeaderLatchListener() {
            @Override public void isLeader() { LockSupport.unpark(main); }

            @Override public void notLeader() { }
        });
        latch.start();
        return latch;
    }

    /** The only participant that leads; -1 if none does, -2 if several do. */
    private static int soleLeader(AtomicReferenceArray<LeaderLatch> latches) {
        int found = -1;
        for (int k = 0; k < latches.length(); k++) {
            if (!latches.get(k).hasLeadership()) continue;
            if (found >= 0) return -2;
            found = k;
        }
        return found;
    }

    /** Waits until exactly one participant other than {@code except} leads. */
    private static int awaitNewLeader(AtomicReferenceArray<LeaderLatch> latches, int except) {
        long deadline = System.nanoTime() + Measure.RECIPE_LIMIT_NS;
        while (true) {
            int k = soleLeader(latches);
            if (k >= 0 && k != except) return k;
            if (System.nanoTime() > deadline)
                throw new IllegalStateException("no single new leader within " + Measure.secs(Measure.RECIPE_LIMIT_NS) + " s");
            LockSupport.parkNanos(Measure.LEADER_RECHECK_NS);
        }
    }

    private static void awaitContenders(CuratorFramework admin, String path, int t) throws Exception {
        long deadline = System.nanoTime() + Measure.RECIPE_LIMIT_NS;
        while (admin.getChildren().forPath(path).size() != t) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("the stepped-down participant did not rejoin");
            Thread.sleep(1);
        }
    }

    /**
     * T participants in one election; N times: close the leader's latch and time until
     * exactly one other participant leads, then let the closed one rejoin (untimed).
     */
    static void leaderFailover(Run r, CuratorFramework admin) throws Exception {
        int n = r.opts.opsOr(50);
        int t = r.opts.threadsOr(3);
        if (t < 2) throw new IllegalArgumentException("leader-failover needs --threads 2 or more");
        String path = r.root + "/election";
        Thread main = Thread.currentThread();
        CuratorFramework[] sessions = new CuratorFramework[t];
        AtomicReferenceArray<LeaderLatch> latches = new AtomicReferenceArray<>(t);
        for (int k = 0; k < t; k++) {
            sessions[k] = r.session();
            latches.set(k, join(sessions[k], path, k, main));
        }
        // Every millisecond, count the looks that see two or more leaders at once.
        AtomicInteger doubles = new AtomicInteger();
        AtomicInteger looks = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        Thread watch = new Thread(() -> {
            while (!stop.get()) {
                int leaders = 0;
                for (int k = 0; k < latches.length(); k++) if (latches.get(k).hasLeadership()) leaders++;
                if (leaders > 1) doubles.incrementAndGet();
                looks.incrementAndGet();
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        }, "double-leader-watch");
        watch.setDaemon(true);
        watch.start();
        try {
            awaitNewLeader(latches, -1);
            awaitContenders(admin, path, t);
            long[] lat = new long[n];
            long total = 0;
            long l0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                int leader = awaitNewLeader(latches, -1);
                long s = System.nanoTime();
                latches.get(leader).close();
                awaitNewLeader(latches, leader);
                lat[i] = System.nanoTime() - s;
                total += lat[i];
                // A closed LeaderLatch cannot start again: a new one on the same session.
                latches.set(leader, join(sessions[leader], path, leader, main));
                awaitContenders(admin, path, t);
            }
            long loop = System.nanoTime() - l0;
            r.line.timed(n, total, lat);
            r.line.extra("double_leaders", doubles.get());
            r.line.extra("polls", looks.get());
            r.line.extra("participants", t);
            r.line.extra("loop_secs", Measure.secs(loop));
            r.line.extra("unit", "failover (secs: sum of hand-overs)");
            r.line.extra("recipe", "LeaderLatch");
        } finally {
            stop.set(true);
            watch.join(1000);
            for (int k = 0; k < t; k++) Run.quietClose(latches.get(k));
        }
    }
}

package anchor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;

/** The request workloads: get-sync, get-threads, get-pipelined, create-delete. */
final class Requests {
    private Requests() { }

    static void getSync(Run r, CuratorFramework c) throws Exception {
        int n = r.opts.opsOr(20_000);
        String node = r.root + "/node";
        c.create().forPath(node, Measure.payload(r.opts.size));
        Measure.Warmup warm = new Measure.Warmup(n / 10);
        while (warm.more(1)) c.getData().forPath(node);
        long[] lat = new long[n];
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            byte[] data = c.getData().forPath(node);
            lat[i] = System.nanoTime() - s;
            if (data.length != r.opts.size)
                throw new IllegalStateException("read " + data.length + " bytes, wrote " + r.opts.size);
        }
        r.line.timed(n, System.nanoTime() - t0, lat);
        r.line.extra("size", r.opts.size);
        r.line.extra("warmup_ops", warm.done());
    }

    /** T threads share one session; each warms up, then all start together. */
    static void getThreads(Run r, CuratorFramework c) throws Exception {
        int n = r.opts.opsOr(20_000);
        int t = r.opts.threadsOr(8);
        String node = r.root + "/node";
        c.create().forPath(node, Measure.payload(r.opts.size));
        long[] lat = new long[n];
        CyclicBarrier gate = new CyclicBarrier(t + 1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch finished = new CountDownLatch(t);
        int from = 0;
        for (int k = 0; k < t; k++) {
            final int first = from;
            final int share = n / t + (k < n % t ? 1 : 0);
            from += share;
            Thread th = new Thread(() -> {
                try {
                    Measure.Warmup warm = new Measure.Warmup(share / 10);
                    try {
                        while (warm.more(1)) c.getData().forPath(node);
                    } finally {
                        gate.await(); // reached even after a failure, so nobody waits forever
                    }
                    for (int i = first; i < first + share; i++) {
                        long s = System.nanoTime();
                        c.getData().forPath(node);
                        lat[i] = System.nanoTime() - s;
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    finished.countDown();
                }
            }, "get-" + k);
            th.start();
        }
        gate.await();
        long t0 = System.nanoTime();
        finished.await();
        long elapsed = System.nanoTime() - t0;
        if (failure.get() != null) throw new IllegalStateException("a thread failed: " + failure.get());
        r.line.timed(n, elapsed, lat);
        r.line.extra("threads", t);
    }

    static void getPipelined(Run r, CuratorFramework c) throws Exception {
        int n = r.opts.opsOr(100_000);
        String node = r.root + "/node";
        c.create().forPath(node, Measure.payload(r.opts.size));
        int chunk = Math.max(1, n / 10);
        Measure.Warmup warm = new Measure.Warmup(n / 10);
        while (warm.more(chunk)) pipelinedGets(r, c, node, chunk, null);
        long[] lat = new long[n];
        long t0 = System.nanoTime();
        pipelinedGets(r, c, node, n, lat);
        r.line.timed(n, System.nanoTime() - t0, lat);
        r.line.extra("inflight", r.opts.inflight);
        r.line.extra("warmup_ops", warm.done());
    }

    /** n background getData calls, at most K in flight; each timed issue to callback. */
    private static void pipelinedGets(Run r, CuratorFramework c, String node, int n, long[] lat) throws Exception {
        Inflight w = new Inflight(r.opts.inflight, n);
        for (int i = 0; i < n; i++) {
            w.next();
            final int slot = i;
            final long issued = System.nanoTime();
            c.getData().inBackground((client, ev) -> {
                if (lat != null) lat[slot] = System.nanoTime() - issued;
                w.done(ev.getResultCode());
            }).forPath(node);
        }
        w.await(120);
    }

    /** One op is a synchronous create of a persistent node and a synchronous delete of it. */
    static void createDelete(Run r, CuratorFramework c) throws Exception {
        int n = r.opts.opsOr(5_000);
        byte[] data = Measure.payload(r.opts.size);
        Measure.Warmup warm = new Measure.Warmup(n / 10);
        while (warm.more(1)) {
            String p = r.root + "/warm" + warm.done();
            c.create().forPath(p, data);
            c.delete().forPath(p);
        }
        long[] lat = new long[n];
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String p = r.root + "/cd" + i;
            long s = System.nanoTime();
            c.create().forPath(p, data);
            c.delete().forPath(p);
            lat[i] = System.nanoTime() - s;
        }
        r.line.timed(n, System.nanoTime() - t0, lat);
        r.line.extra("requests", 2L * n);
        r.line.extra("unit", "create+delete pair");
        r.line.extra("warmup_ops", warm.done());
    }
}

package anchor;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.Watcher;

/** The watch workloads: watch-fanout, persistent-recursive, cache-load. */
final class Watches {
    private Watches() { }

    /** Counts expected events and remembers when the last one arrived. */
    static final class Arrivals {
        private final int expected;
        private final CountDownLatch allIn = new CountDownLatch(1);
        private int count;
        private long lastNs;

        Arrivals(int expected) { this.expected = expected; }

        synchronized int arrive() {
            lastNs = System.nanoTime();
            if (++count == expected) allIn.countDown();
            return count;
        }

        int await(long graceNs) throws InterruptedException {
            allIn.await(graceNs, TimeUnit.NANOSECONDS);
            return count();
        }

        synchronized int count() { return count; }

        /** From {@code t0} to the last arrival (to now when nothing arrived). */
        synchronized long spanFrom(long t0) { return (count > 0 ? lastNs : System.nanoTime()) - t0; }
    }

    static void watchFanout(Run r, CuratorFramework b) throws Exception {
        int w = r.opts.nodesOr(10_000);
        String dir = r.root + "/fan";
        b.create().forPath(dir);
        r.createChildren(b, dir, "n", w, Measure.payload(r.opts.size));
        CuratorFramework a = r.session();
        r.setChildren(b, dir, "n", w, w, Measure.payload(r.opts.size)); // B's warm-up pass

        Arrivals arrivals = new Arrivals(w);
        Watcher watcher = ev -> {
            if (ev.getType() == Watcher.Event.EventType.NodeDataChanged) arrivals.arrive();
        };
        long r0 = System.nanoTime();
        Inflight reg = new Inflight(r.opts.inflight, w);
        for (int i = 0; i < w; i++) {
            reg.next();
            a.getData().usingWatcher(watcher).inBackground(reg.callback()).forPath(dir + "/n" + i);
        }
        reg.await(120);
        long register = System.nanoTime() - r0;

        byte[] changed = Measure.payload(r.opts.size);
        changed[0] = '1';
        Inflight writes = new Inflight(r.opts.inflight, w);
        long t0 = System.nanoTime();
        for (int i = 0; i < w; i++) {
            writes.next();
            b.setData().inBackground(writes.callback()).forPath(dir + "/n" + i, changed);
        }
        writes.await(120);
        long writesNs = System.nanoTime() - t0;
        int got = arrivals.await(Measure.EVENT_GRACE_NS);
        r.line.events(w, got, arrivals.spanFrom(t0));
        r.line.extra("register_secs", Measure.secs(register));
        r.line.extra("writes_secs", Measure.secs(writesNs));
        r.line.extra("writer", "pipelined");
        a.close();
    }

    /** The read-backs of persistent-recursive: a counter per child that must never go down. */
    static final class OrderCheck {
        private final long[] last = new long[Measure.PR_CHILDREN];
        int verified;
        int outOfOrder;
        int readErrors;
        long lastNs;
        final CountDownLatch allVerified;
        private final String prefix;

        OrderCheck(String prefix, int expected) {
            this.prefix = prefix;
            this.allVerified = new CountDownLatch(expected);
            Arrays.fill(last, Long.MIN_VALUE);
        }

        synchronized void record(String path, byte[] data) {
            verified++;
            lastNs = System.nanoTime();
            try {
                int child = Integer.parseInt(path.substring(prefix.length()));
                long counter = Long.parseLong(new String(data, StandardCharsets.US_ASCII).trim());
                if (counter < last[child]) outOfOrder++;
                last[child] = counter;
            } catch (RuntimeException e) {
                readErrors++;
            }
            allVerified.countDown();
        }

        synchronized void failed() {
            verified++;
            readErrors++;
            lastNs = System.nanoTime();
            allVerified.countDown();
        }
    }

    static void persistentRecursive(Run r, CuratorFramework b) throws Exception {
        int n = r.opts.opsOr(20_000);
        String dir = r.root + "/pr";
        b.create().forPath(dir);
        byte[] minusOne = "-1".getBytes(StandardCharsets.US_ASCII);
        r.createChildren(b, dir, "c", Measure.PR_CHILDREN, minusOne);
        CuratorFramework a = r.session();
        r.setChildren(b, dir, "c", n / 10, Measure.PR_CHILDREN, minusOne); // warm-up, no watch yet

        // Events carry no data: for each one, A reads the node back in the background (in
        // event order, as the watcher runs on ZooKeeper's event thread) and checks its counter.
        String prefix = dir + "/c";
        Arrivals arrivals = new Arrivals(n);
        OrderCheck check = new OrderCheck(prefix, n);
        BackgroundCallback readBack = (client, ev) -> {
            if (ev.getResultCode() == 0) check.record(ev.getPath(), ev.getData());
            else check.failed();
        };
        Watcher watcher = ev -> {
            if (ev.getType() != Watcher.Event.EventType.NodeDataChanged) return;
            arrivals.arrive();
            try {
                a.getData().inBackground(readBack).forPath(ev.getPath());
            } catch (Exception e) {
                check.failed();
            }
        };
        a.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher(watcher).forPath(dir);

        Inflight writes = new Inflight(r.opts.inflight, n);
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            writes.next();
            byte[] counter = Integer.toString(i).getBytes(StandardCharsets.US_ASCII);
            b.setData().inBackground(writes.callback()).forPath(prefix + (i % Measure.PR_CHILDREN), counter);
        }
        writes.await(120);
        long writesNs = System.nanoTime() - t0;
        int got = arrivals.await(Measure.EVENT_GRACE_NS);
        check.allVerified.await(Measure.VERIFY_GRACE_NS, TimeUnit.NANOSECONDS);
        r.line.events(n, got, arrivals.spanFrom(t0));
        synchronized (check) {
            r.line.set("out_of_order", check.outOfOrder);
            r.line.extra("writes_secs", Measure.secs(writesNs));
            r.line.extra("verified", check.verified);
            if (check.verified > 0) r.line.extra("verify_secs", Measure.secs(check.lastNs - t0));
            r.line.extra("read_errors", check.readErrors);
        }
        r.line.extra("children", Measure.PR_CHILDREN);
        r.line.extra("writer", "pipelined");
        a.close();
    }

    static void cacheLoad(Run r, CuratorFramework b) throws Exception {
        int w = r.opts.nodesOr(20_000);
        String dir = r.root + "/cache";
        b.create().forPath(dir);
        r.createChildren(b, dir, "n", w, Measure.payload(r.opts.size));
        CuratorFramework a = r.session();
        long rssBefore = Measure.rssKib();
        CountDownLatch initialized = new CountDownLatch(1);
        long t0 = System.nanoTime();
        CuratorCache cache = CuratorCache.build(a, dir);
        cache.listenable().addListener(CuratorCacheListener.builder().forInitialized(initialized::countDown).build());
        cache.start();
        boolean ok = initialized.await(120, TimeUnit.SECONDS);
        long elapsed = System.nanoTime() - t0;
        if (!ok) throw new IllegalStateException("the cache did not initialize within 120 s");
        long rss = Measure.rssKib();
        int cached = cache.size(); // CuratorCache holds the parent node too
        cache.close();
        a.close();
        if (cached != w + 1) throw new IllegalStateException("the cache initialized with " + cached + " nodes, expected " + (w + 1));
        r.line.set("ops", w);
        r.line.set("secs", Measure.secs(elapsed));
        r.line.set("ops_per_sec", Measure.round1(w / (elapsed / 1e9)));
        r.line.extra("rss_kb", rss);
        r.line.extra("rss_before_kb", rssBefore);
        r.line.extra("cached_nodes", cached);
        r.line.extra("size", r.opts.size);
        r.line.extra("recipe", "CuratorCache");
    }
}

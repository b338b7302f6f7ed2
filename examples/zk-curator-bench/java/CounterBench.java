// The Java Curator twin of zk-curator-bench's counter-increment and counter-increment-atomic
// (see ../counter.rs for the definition): same CLI, same JSON line. T clients, one thread
// each, N increments in all (tickets), behind a barrier, after N/(10 T) untimed increments
// per client; SharedCount with a trySetCount loop, or DistributedAtomicLong with
// RetryNTimes(100, 0) and increment() until it succeeds.

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.retry.RetryNTimes;

public class CounterBench {
    static final String CLIENT = "curator-5.4.0";

    interface Counter {
        long increment() throws Exception; // attempts it took

        void close() throws Exception;
    }

    static CuratorFramework client(String connect) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(connect)
            .sessionTimeoutMs(30_000).connectionTimeoutMs(15_000)
            .retryPolicy(new RetryNTimes(3, 100)).build();
        c.start();
        if (!c.blockUntilConnected(15, TimeUnit.SECONDS)) {
            throw new IllegalStateException("could not connect to " + connect);
        }
        return c;
    }

    static Counter open(CuratorFramework c, String path, boolean atomic) throws Exception {
        if (atomic) {
            DistributedAtomicLong a = new DistributedAtomicLong(c, path, new RetryNTimes(100, 0));
            return new Counter() {
                public long increment() throws Exception {
                    long attempts = 0;
                    while (true) {
                        AtomicValue<Long> r = a.increment();
                        attempts += r.getStats().getOptimisticTries();
                        if (r.succeeded()) {
                            return attempts;
                        }
                    }
                }

                public void close() {}
            };
        }
        SharedCount s = new SharedCount(c, path, 0);
        s.start();
        return new Counter() {
            public long increment() throws Exception {
                long attempts = 0;
                while (true) {
                    attempts++;
                    VersionedValue<Integer> v = s.getVersionedValue();
                    if (s.trySetCount(v, v.getValue() + 1)) {
                        return attempts;
                    }
                }
            }

            public void close() throws Exception {
                s.close();
            }
        };
    }

    static long value(CuratorFramework c, String path) throws Exception {
        byte[] d = c.getData().forPath(path);
        long v = 0;
        for (byte b : d) {
            v = (v << 8) | (b & 0xff);
        }
        return d.length == 4 ? (int) v : v;
    }

    public static void main(String[] argv) {
        String connect = "127.0.0.1:2181", workload = "";
        int ops = 2000, threads = 8;
        for (int i = 0; i + 1 < argv.length; i += 2) {
            switch (argv[i]) {
                case "--connect": connect = argv[i + 1]; break;
                case "--workload": workload = argv[i + 1]; break;
                case "--ops": ops = Integer.parseInt(argv[i + 1]); break;
                case "--threads": threads = Integer.parseInt(argv[i + 1]); break;
                default: break; // the shared CLI's other options do not apply here
            }
        }
        String head = "{\"client\":\"" + CLIENT + "\",\"workload\":\"" + workload + "\"";
        if (!workload.equals("counter-increment") && !workload.equals("counter-increment-atomic")) {
            System.out.println(head + ",\"unsupported\":\"this harness runs the counter workloads only\"}");
            return;
        }
        boolean atomic = workload.endsWith("-atomic");
        String root = "/bench-java-" + ProcessHandle.current().pid();
        List<CuratorFramework> clients = new ArrayList<>();
        String line;
        int code = 0;
        CuratorFramework admin = null;
        try {
            admin = client(connect);
            admin.create().forPath(root, new byte[0]);
            line = head + run(admin, clients, connect, root + "/counter", atomic, ops, threads);
        } catch (Throwable t) {
            line = head + ",\"error\":\"" + String.valueOf(t).replace("\"", "'") + "\"}";
            code = 1;
        }
        for (CuratorFramework c : clients) {
            c.close();
        }
        if (admin != null) {
            try {
                admin.delete().deletingChildrenIfNeeded().forPath(root);
            } catch (Exception ignore) {
            }
            admin.close();
        }
        System.out.println(line);
        System.exit(code);
    }

    static String run(CuratorFramework admin, List<CuratorFramework> clients, String connect, String path,
                      boolean atomic, int n, int t) throws Exception {
        List<Counter> counters = new ArrayList<>();
        for (int i = 0; i < t; i++) {
            CuratorFramework c = client(connect);
            clients.add(c);
            counters.add(open(c, path, atomic));
        }
        int warmEach = Math.max(1, n / 10 / t);
        AtomicInteger tickets = new AtomicInteger();
        AtomicLong attempts = new AtomicLong();
        AtomicLong lastEnd = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Long> lat = Collections.synchronizedList(new ArrayList<>(n));
        CyclicBarrier ready = new CyclicBarrier(t + 1), go = new CyclicBarrier(t + 1);
        CyclicBarrier finished = new CyclicBarrier(t + 1), done = new CyclicBarrier(t + 1);
        List<Thread> workers = new ArrayList<>();
        for (Counter c : counters) {
            Thread th = new Thread(() -> {
                List<Long> mine = new ArrayList<>();
                try {
                    for (int i = 0; i < warmEach; i++) {
                        c.increment();
                    }
                    ready.await();
                    go.await();
                    while (tickets.getAndIncrement() < n) {
                        long t0 = System.nanoTime();
                        attempts.addAndGet(c.increment());
                        mine.add(System.nanoTime() - t0);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                lastEnd.accumulateAndGet(System.nanoTime(), Math::max);
                lat.addAll(mine);
                try {
                    finished.await();
                    done.await();
                } catch (Exception ignore) {
                }
            });
            th.start();
            workers.add(th);
        }
        ready.await(300, TimeUnit.SECONDS);
        long before = value(admin, path);
        long cpu0 = processCpu();
        long start = System.nanoTime();
        go.await();
        finished.await(600, TimeUnit.SECONDS);
        long elapsed = lastEnd.get() - start;
        long cpu = processCpu() - cpu0;
        done.await();
        for (Thread th : workers) {
            th.join();
        }
        for (Counter c : counters) {
            c.close();
        }
        if (failure.get() != null) {
            throw new RuntimeException("an increment failed: " + failure.get());
        }
        long moved = value(admin, path) - before;
        Long[] sorted = lat.toArray(new Long[0]);
        Arrays.sort(sorted);
        double secs = elapsed / 1e9;
        String extra = String.format(",\"extra\":{\"clients\":%d,\"recipe\":\"%s\",\"counter\":%d,\"attempts\":%d,\"warmup_ops\":%d}",
            t, atomic ? "DistributedAtomicLong" : "SharedCount", moved, attempts.get(), warmEach * t);
        String main = String.format(java.util.Locale.ROOT,
            ",\"ops\":%d,\"secs\":%.6f,\"ops_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"cpu_us_per_op\":%.2f",
            n, secs, n / secs, pct(sorted, 0.50) / 1e3, pct(sorted, 0.99) / 1e3, cpu / 1e3 / n);
        if (moved != n) {
            return main + ",\"error\":\"inexact: the counter moved by " + moved + " for " + n + " increments\"" + extra + "}";
        }
        return main + extra + "}";
    }

    static long pct(Long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
    }

    /** CPU time of the whole JVM process (all threads, GC and JIT included), in ns. */
    static long processCpu() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean) {
            return ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime();
        }
        return 0;
    }
}

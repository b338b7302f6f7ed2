// queue-throughput through Apache Curator 5.4 (Debian's jars): the twin of
// examples/zk-curator-bench/queue.rs, with the same CLI subset and JSON line as the shared
// bench harnesses (shared/bench/README.md):
//
//   java QueueThroughput --connect HOST:PORT --workload queue-throughput [--ops N] [--size B]
//
// One producer and one consumer client (two sessions) share one DistributedQueue. The consumer
// (QueueBuilder defaults: no lock path, direct executor on the queue's thread) starts first; the
// producer puts N items of B bytes with Curator's default background puts. secs = first put to
// last item consumed; p50/p99 = put call to consumption per item (the first 8 bytes carry the
// put time). An untimed round of N/10 items through another queue warms the JVM up first. Run
// by queue-throughput.sh; compiled there with javac (no Maven).

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;

public class QueueThroughput {
    static final QueueSerializer<byte[]> BYTES = new QueueSerializer<byte[]>() {
        @Override
        public byte[] serialize(byte[] item) {
            return item;
        }

        @Override
        public byte[] deserialize(byte[] bytes) {
            return bytes;
        }
    };

    static final long BASE = System.nanoTime();

    static CuratorFramework client(String connect) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
            .connectString(connect)
            .sessionTimeoutMs(30_000)
            .connectionTimeoutMs(15_000)
            .retryPolicy(new RetryNTimes(3, 100))
            .build();
        c.start();
        if (!c.blockUntilConnected(15, TimeUnit.SECONDS)) {
            throw new IllegalStateException("could not connect to " + connect);
        }
        return c;
    }

    static final class Round {
        long elapsedNs;
        long putNs;
        int delivered;
        long[] lat;
    }

    static Round round(CuratorFramework producer, CuratorFramework consumer, String path, int n, int size)
            throws Exception {
        long[] lat = new long[n];
        AtomicInteger got = new AtomicInteger();
        long[] last = new long[1];
        CountDownLatch all = new CountDownLatch(1);
        QueueConsumer<byte[]> c = new QueueConsumer<byte[]>() {
            @Override
            public void consumeMessage(byte[] item) {
                long now = System.nanoTime() - BASE;
                long sent = item.length >= 8 ? ByteBuffer.wrap(item).getLong() : now;
                int i = got.getAndIncrement();
                if (i < n) {
                    lat[i] = now - sent;
                }
                if (i + 1 >= n) {
                    last[0] = System.nanoTime();
                    all.countDown();
                }
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState newState) {}
        };
        DistributedQueue<byte[]> cq = QueueBuilder.builder(consumer, c, BYTES, path).buildQueue();
        cq.start();
        DistributedQueue<byte[]> pq = QueueBuilder.builder(producer, null, BYTES, path).buildQueue();
        pq.start();
        byte[] item = new byte[size];
        Arrays.fill(item, (byte) 'x');
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            byte[] copy = item.clone();
            ByteBuffer.wrap(copy).putLong(System.nanoTime() - BASE);
            pq.put(copy);
        }
        if (!pq.flushPuts(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("background puts did not complete");
        }
        long put = System.nanoTime() - t0;
        all.await(120, TimeUnit.SECONDS);
        Round r = new Round();
        r.delivered = Math.min(got.get(), n);
        r.elapsedNs = (r.delivered >= n ? last[0] : System.nanoTime()) - t0;
        r.putNs = put;
        r.lat = Arrays.copyOf(lat, r.delivered);
        pq.close();
        cq.close();
        return r;
    }

    static void deleteTree(CuratorFramework c, String path) throws Exception {
        if (c.checkExists().forPath(path) != null) {
            c.delete().deletingChildrenIfNeeded().forPath(path);
        }
    }

    static double pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))] / 1e3;
    }

    public static void main(String[] argv) {
        String connect = "127.0.0.1:2181";
        String workload = "";
        int n = 10_000;
        int size = 100;
        for (int i = 0; i + 1 < argv.length; i += 2) {
            switch (argv[i]) {
                case "--connect": connect = argv[i + 1]; break;
                case "--workload": workload = argv[i + 1]; break;
                case "--ops": n = Integer.parseInt(argv[i + 1]); break;
                case "--size": size = Integer.parseInt(argv[i + 1]); break;
                default: break; // the other common flags do not apply
            }
        }
        String head = "{\"client\":\"curator-5.4.0\",\"workload\":\"" + workload + "\"";
        if (!workload.equals("queue-throughput")) {
            System.out.println(head + ",\"unsupported\":\"this harness only runs queue-throughput\"}");
            System.exit(0);
        }
        size = Math.max(size, 8);
        String root = "/bench-" + ProcessHandle.current().pid();
        CuratorFramework admin = null;
        CuratorFramework producer = null;
        CuratorFramework consumer = null;
        int code = 0;
        String line;
        try {
            admin = client(connect);
            producer = client(connect);
            consumer = client(connect);
            admin.create().forPath(root, new byte[0]);
            int warm = Math.max(n / 10, 100);
            round(producer, consumer, root + "/warm", warm, size);
            Round r = round(producer, consumer, root + "/queue", n, size);
            long[] lat = r.lat;
            Arrays.sort(lat);
            double secs = r.elapsedNs / 1e9;
            line = head + String.format(Locale.ROOT,
                ",\"ops\":%d,\"secs\":%.3f,\"ops_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"lost\":%d"
                    + ",\"extra\":{\"put_secs\":%.3f,\"size\":%d,\"warmup_ops\":%d,"
                    + "\"recipe\":\"DistributedQueue, background puts, no lock path\"}}",
                n, secs, n / secs, pct(lat, 0.50), pct(lat, 0.99), n - r.delivered, r.putNs / 1e9, size, warm);
            if (r.delivered < n) {
                code = 1;
            }
        } catch (Throwable t) {
            line = head + ",\"error\":\"" + String.valueOf(t).replace('"', '\'') + "\"}";
            code = 1;
        } finally {
            if (producer != null) {
                producer.close();
            }
            if (consumer != null) {
                consumer.close();
            }
            if (admin != null) {
                try {
                    deleteTree(admin, root);
                } catch (Exception ignore) {
                    // the server's own problem; the line says what happened
                }
                admin.close();
            }
        }
        System.out.println(line);
        System.exit(code);
    }
}

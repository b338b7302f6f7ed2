// Java Curator's bounded DistributedQueue against whatever server it is pointed at, for
// tests/testing_timing.rs: how far the queue overshoots maxItems depends on how fast the
// server takes writes, which is what the TestingServer's realistic() preset is for.
//
// The scenario is the one Curator's own suite checks maxItems with (TestBoundedDistributedQueue,
// testMulti): four clients, each with its own session, put items one at a time (in the
// foreground) through one queue bounded at 10, while their consumers take 10 ms an item under
// a lock path; a fifth client looks at the queue's child count at every change. Curator's test
// requires every count it sees to be at most twice the bound.
//
// Prints one line, "max <largest count seen> looks <how many counts were read>". Any failure
// throws, so the program exits non-zero with the reason on stderr.
//
// Usage: java BoundedQueueScenario <connect string> <queue path> <items per client>

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.Watcher;

public class BoundedQueueScenario {
    static final int CLIENTS = 4;
    static final int MAX_ITEMS = 10;
    static final long CONSUME_MS = 10;

    static final QueueSerializer<String> TEXT = new QueueSerializer<String>() {
        @Override
        public byte[] serialize(String item) {
            return item.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String deserialize(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    };

    static CuratorFramework client(String connect) throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.newClient(connect, 20_000, 20_000, new RetryOneTime(100));
        c.start();
        if (!c.blockUntilConnected(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no connection to " + connect + " within 30 s");
        }
        return c;
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String path = args[1];
        int items = Integer.parseInt(args[2]);

        ExecutorService pool = Executors.newCachedThreadPool();
        CuratorFramework observer = client(connect);
        observer.create().creatingParentsIfNeeded().forPath(path);

        // The observer: a children watch, and a fresh count each time it fires.
        AtomicInteger most = new AtomicInteger();
        AtomicInteger looks = new AtomicInteger();
        AtomicBoolean done = new AtomicBoolean();
        BlockingQueue<Boolean> changed = new LinkedBlockingQueue<>();
        Watcher watcher = event -> changed.add(true);
        Future<?> observing = pool.submit(() -> {
            while (!done.get()) {
                int n = observer.getChildren().usingWatcher(watcher).forPath(path).size();
                most.accumulateAndGet(n, Math::max);
                looks.incrementAndGet();
                changed.poll(1, TimeUnit.SECONDS);
            }
            return null;
        });

        QueueConsumer<String> slow = new QueueConsumer<String>() {
            @Override
            public void consumeMessage(String message) throws Exception {
                Thread.sleep(CONSUME_MS);
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {}
        };
        List<Future<?>> producers = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            String prefix = i + "-";
            producers.add(pool.submit(() -> {
                try (CuratorFramework c = client(connect);
                     DistributedQueue<String> queue = QueueBuilder.builder(c, slow, TEXT, path)
                         .executor(pool)
                         .maxItems(MAX_ITEMS)
                         .putInBackground(false)
                         .lockPath(path + "-locks")
                         .buildQueue()) {
                    queue.start();
                    for (int k = 0; k < items; k++) {
                        queue.put(prefix + k);
                    }
                }
                return null;
            }));
        }
        for (Future<?> p : producers) {
            p.get(120, TimeUnit.SECONDS);
        }
        done.set(true);
        changed.add(true);
        observing.get(30, TimeUnit.SECONDS);
        observer.close();
        pool.shutdownNow();
        System.out.println("max " + most.get() + " looks " + looks.get());
    }
}

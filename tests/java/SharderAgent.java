// Java Curator's QueueSharder with a leader path, for tests/interop_queue.rs: one sharder at a
// time, on the queue and leader paths zk-curator's sharder uses too. Its shards are plain
// producer queues of UTF-8 strings.
//
// Commands:
//   start <queuePath> <leaderPath> <threshold> <checkMs> <maxQueues>   build and start a sharder
//   made        how many shards this agent's sharders made themselves (opened before their node
//               existed), over all of them
//   qty         the current sharder's shard count
//   put <n>     n items into the current sharder's getQueue()
//   close       close the current sharder (a later start builds a new one)

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueAllocator;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.QueueSharder;
import org.apache.curator.framework.recipes.queue.QueueSharderPolicies;

public class SharderAgent extends InteropAgent {
    public static void main(String[] args) {
        new SharderAgent().run(args);
    }

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

    private final AtomicInteger made = new AtomicInteger();
    private QueueSharder<String, DistributedQueue<String>> sharder;

    private final QueueAllocator<String, DistributedQueue<String>> allocator = (c, path) -> {
        try {
            if (c.checkExists().forPath(path) == null) {
                made.incrementAndGet();
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return QueueBuilder.builder(c, null, TEXT, path).buildQueue();
    };

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "start": {
                if (sharder != null) {
                    throw new IllegalStateException("a sharder is open");
                }
                QueueSharderPolicies policies = QueueSharderPolicies.builder()
                    .newQueueThreshold(Integer.parseInt(a[2]))
                    .thresholdCheckMs(Integer.parseInt(a[3]))
                    .maxQueues(Integer.parseInt(a[4]))
                    .build();
                QueueSharder<String, DistributedQueue<String>> s =
                    new QueueSharder<>(client, allocator, a[0], a[1], policies);
                s.start();
                sharder = s;
                return "";
            }
            case "made":
                return Integer.toString(made.get());
            case "qty":
                return Integer.toString(sharder.getShardQty());
            case "put": {
                int n = Integer.parseInt(a[0]);
                for (int i = 0; i < n; i++) {
                    DistributedQueue<String> q = sharder.getQueue();
                    q.put("java-" + i);
                    q.flushPuts(30, TimeUnit.SECONDS);
                }
                return "";
            }
            case "close":
                if (sharder != null) {
                    sharder.close();
                    sharder = null;
                }
                return "";
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    @Override
    protected void teardown() throws Exception {
        if (sharder != null) {
            sharder.close();
        }
    }
}

// Java Curator's queues, for tests/interop_queue.rs: produce into and consume from the queues
// zk-curator shares with it. Items are UTF-8 strings without spaces.
//
// Consumers report each item as "event item <queue path> <text> <epoch ms at delivery>".

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.recipes.queue.DistributedDelayQueue;
import org.apache.curator.framework.recipes.queue.DistributedIdQueue;
import org.apache.curator.framework.recipes.queue.DistributedPriorityQueue;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.MultiItem;
import org.apache.curator.framework.recipes.queue.QueueBase;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.CuratorFramework;

public class QueueAgent extends InteropAgent {
    public static void main(String[] args) {
        new QueueAgent().run(args);
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

    /** Open queues by "<kind> <path>"; closed at teardown. */
    private final Map<String, QueueBase<String>> queues = new HashMap<>();

    private static QueueConsumer<String> reporter(String path) {
        return new QueueConsumer<String>() {
            @Override
            public void consumeMessage(String message) {
                event("item " + path + " " + message + " " + System.currentTimeMillis());
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {}
        };
    }

    private QueueBuilder<String> builder(String path, boolean consume, String lockPath) {
        QueueBuilder<String> b = QueueBuilder.builder(client, consume ? reporter(path) : null, TEXT, path);
        if (lockPath != null && !lockPath.equals("-")) {
            b = b.lockPath(lockPath);
        }
        return b;
    }

    @SuppressWarnings("unchecked")
    private <Q extends QueueBase<String>> Q open(String kind, String path, boolean consume, String lockPath)
            throws Exception {
        String key = kind + (consume ? "-consumer " : "-producer ") + path;
        QueueBase<String> q = queues.get(key);
        if (q == null) {
            QueueBuilder<String> b = builder(path, consume, lockPath);
            switch (kind) {
                case "plain": q = b.buildQueue(); break;
                case "priority": q = b.buildPriorityQueue(0); break;
                case "delay": q = b.buildDelayQueue(); break;
                case "id": q = b.buildIdQueue(); break;
                default: throw new IllegalArgumentException("kind " + kind);
            }
            q.start();
            queues.put(key, q);
        }
        return (Q) q;
    }

    private static MultiItem<String> multi(String[] items) {
        List<String> left = new ArrayList<>(Arrays.asList(items));
        return () -> left.isEmpty() ? null : left.remove(0);
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "consume": { // <kind> <path> <lockPath|->: start consuming
                open(a[0], a[1], true, a[2]);
                return "";
            }
            case "stop": { // <kind> <path>: close that consumer
                QueueBase<String> q = queues.remove(a[0] + "-consumer " + a[1]);
                if (q != null) {
                    q.close();
                }
                return "";
            }
            case "produce": { // <path> <n> <prefix>: n items <prefix>-<0000 i> in order
                DistributedQueue<String> q = open("plain", a[0], false, null);
                int n = Integer.parseInt(a[1]);
                for (int i = 0; i < n; i++) {
                    q.put(String.format("%s-%04d", a[2], i));
                }
                if (!q.flushPuts(30, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("puts not flushed");
                }
                return "";
            }
            case "put-multi": { // <path> <a,b,c>
                DistributedQueue<String> q = open("plain", a[0], false, null);
                q.putMulti(multi(a[1].split(",")));
                q.flushPuts(30, TimeUnit.SECONDS);
                return "";
            }
            case "put-priority": { // <path> <priority> <text>
                DistributedPriorityQueue<String> q = open("priority", a[0], false, null);
                q.put(a[2], Integer.parseInt(a[1]));
                q.flushPuts(30, TimeUnit.SECONDS);
                return "";
            }
            case "put-delay": { // <path> <epoch ms> <text>
                DistributedDelayQueue<String> q = open("delay", a[0], false, null);
                q.put(a[2], Long.parseLong(a[1]));
                q.flushPuts(30, TimeUnit.SECONDS);
                return "";
            }
            case "put-id": { // <path> <id> <text>
                DistributedIdQueue<String> q = open("id", a[0], false, null);
                q.put(a[2], a[1]);
                q.flushPuts(30, TimeUnit.SECONDS);
                return "";
            }
            case "remove-id": { // <path> <id>: how many removed
                DistributedIdQueue<String> q = open("id", a[0], false, null);
                return Integer.toString(q.remove(a[1]));
            }
            case "simple-offer": // <path> <text>
                new SimpleDistributedQueue(client, a[0]).offer(a[1].getBytes(StandardCharsets.UTF_8));
                return "";
            case "simple-poll": { // <path>: the head or "-"
                byte[] b = new SimpleDistributedQueue(client, a[0]).poll(5, TimeUnit.SECONDS);
                return b == null ? "-" : new String(b, StandardCharsets.UTF_8);
            }
            case "now": // the agent's clock
                return Long.toString(System.currentTimeMillis());
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    @Override
    protected void teardown() throws Exception {
        for (QueueBase<String> q : queues.values()) {
            q.close();
        }
    }
}

// Java Curator's SharedCount, DistributedAtomicLong and CachedAtomicLong beside zk-curator's,
// for tests/interop_shared.rs: concurrent compare-and-set increments from worker threads, what
// the listeners saw, the post values of successful atomic increments, the ids handed out by
// cached atomics.

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.CachedAtomicLong;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;

public class SharedAgent extends InteropAgent {
    private SharedCount count;
    private final AtomicInteger lastHeard = new AtomicInteger(Integer.MIN_VALUE);
    private final List<Long> posts = Collections.synchronizedList(new ArrayList<>());
    private final List<Long> cachedIds = Collections.synchronizedList(new ArrayList<>());

    public static void main(String[] args) {
        new SharedAgent().run(args);
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "count-start": { // <path> <seed>
                count = new SharedCount(client, a[0], Integer.parseInt(a[1]));
                count.addListener(new SharedCountListener() {
                    @Override
                    public void countHasChanged(SharedCountReader r, int n) {
                        lastHeard.set(n);
                    }

                    @Override
                    public void stateChanged(org.apache.curator.framework.CuratorFramework c, ConnectionState s) {}
                });
                count.start();
                return Integer.toString(count.getCount());
            }
            case "count-inc": { // <threads> <each>: CAS loops in the background, then "event count-done"
                int threads = Integer.parseInt(a[0]);
                int each = Integer.parseInt(a[1]);
                AtomicInteger left = new AtomicInteger(threads);
                for (int t = 0; t < threads; t++) {
                    new Thread(() -> {
                        try {
                            for (int i = 0; i < each; i++) {
                                while (true) {
                                    VersionedValue<Integer> v = count.getVersionedValue();
                                    if (count.trySetCount(v, v.getValue() + 1)) {
                                        break;
                                    }
                                }
                            }
                        } catch (Exception e) {
                            event("count-error " + e);
                        }
                        if (left.decrementAndGet() == 0) {
                            event("count-done");
                        }
                    }).start();
                }
                return "";
            }
            case "count-get":
                return Integer.toString(count.getCount());
            case "count-heard": // the last value the listener was told about
                return Integer.toString(lastHeard.get());
            case "atomic-inc": { // <path> <threads> <each>: increments until each thread has <each> successes
                String path = a[0];
                int threads = Integer.parseInt(a[1]);
                int each = Integer.parseInt(a[2]);
                AtomicInteger left = new AtomicInteger(threads);
                for (int t = 0; t < threads; t++) {
                    new Thread(() -> {
                        DistributedAtomicLong n = new DistributedAtomicLong(client, path, new RetryNTimes(1000, 0));
                        try {
                            int done = 0;
                            while (done < each) {
                                AtomicValue<Long> r = n.increment();
                                if (r.succeeded()) {
                                    if (r.postValue() != r.preValue() + 1) {
                                        event("atomic-error post " + r.postValue() + " after " + r.preValue());
                                    }
                                    posts.add(r.postValue());
                                    done++;
                                }
                            }
                        } catch (Exception e) {
                            event("atomic-error " + e);
                        }
                        if (left.decrementAndGet() == 0) {
                            event("atomic-done");
                        }
                    }).start();
                }
                return "";
            }
            case "atomic-posts": { // every post value of a successful increment, comma-separated
                synchronized (posts) {
                    List<String> out = new ArrayList<>();
                    for (Long p : posts) {
                        out.add(Long.toString(p));
                    }
                    return String.join(",", out);
                }
            }
            case "cached-next": { // <path> <factor> <threads> <each>: ids from one CachedAtomicLong per thread (Curator's is not thread-safe)
                String path = a[0];
                int factor = Integer.parseInt(a[1]);
                int threads = Integer.parseInt(a[2]);
                int each = Integer.parseInt(a[3]);
                AtomicInteger left = new AtomicInteger(threads);
                for (int t = 0; t < threads; t++) {
                    new Thread(() -> {
                        CachedAtomicLong ids = new CachedAtomicLong(
                            new DistributedAtomicLong(client, path, new RetryNTimes(1000, 0)), factor);
                        try {
                            int done = 0;
                            while (done < each) {
                                AtomicValue<Long> r = ids.next();
                                if (r.succeeded()) {
                                    if (r.postValue() != r.preValue() + 1) {
                                        event("cached-error post " + r.postValue() + " after " + r.preValue());
                                    }
                                    cachedIds.add(r.preValue());
                                    done++;
                                }
                            }
                        } catch (Exception e) {
                            event("cached-error " + e);
                        }
                        if (left.decrementAndGet() == 0) {
                            event("cached-done");
                        }
                    }).start();
                }
                return "";
            }
            case "cached-ids": { // every id handed out, comma-separated
                synchronized (cachedIds) {
                    List<String> out = new ArrayList<>();
                    for (Long id : cachedIds) {
                        out.add(Long.toString(id));
                    }
                    return String.join(",", out);
                }
            }
            case "atomic-get": // <path>
                return Long.toString(new DistributedAtomicLong(client, a[0], new RetryNTimes(0, 0)).get().postValue());
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    @Override
    protected void teardown() throws Exception {
        if (count != null) {
            count.close();
        }
    }
}

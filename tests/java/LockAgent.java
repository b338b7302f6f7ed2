// Java Curator's lock recipes for tests/interop_locks.rs: InterProcessMutex,
// InterProcessReadWriteLock and InterProcessSemaphoreV2 on paths a Rust process uses too.
//
// Locks are named by the test:  new-mutex NAME PATH | new-rw NAME PATH | new-sem NAME PATH LEASES
// A "kind" picks the side of a lock: mutex, read, write or lease.
//
//   acquire NAME KIND MS        on this (the command) thread; answers true or false
//   release NAME KIND           on this thread (a lease: every lease this agent holds)
//   acquire-async NAME KIND     a thread of its own acquires (event "acquired NAME"), then
//   release-async NAME          waits for this to release (event "released NAME")
//   nodes NAME KIND             the participant nodes, comma-separated
//   revocable NAME              makeRevocable on a mutex: event "revoke NAME" when asked
//   revoke PATH                 Revoker.attemptRevoke on a lock node
//   data PATH                   a node's data (UTF-8)
//   dump                        every thread's stack to stderr (for a test that timed out)
//   loop NAME KIND N DIR TAG HOLD_MS [THREADS]
//                               THREADS threads (default 1) each acquire N times; while
//                               holding they prove exclusion with marker nodes under DIR
//                               (see markers below), log TAG under DIR/log, hold HOLD_MS;
//                               event "loop-done TAG COUNT VIOLATIONS" or "loop-failed TAG why"
//
// Markers (the Rust side of the test uses the same):
//   mutex, write  DIR/exclusive, ephemeral: it must not exist; no reader either (write)
//   read          DIR/readers/r-, ephemeral-sequential; DIR/exclusive must not exist
//   lease         DIR/holders/h-, ephemeral-sequential; at most LEASES children

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.locks.Revoker;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

public class LockAgent extends InteropAgent {
    public static void main(String[] args) {
        new LockAgent().run(args);
    }

    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private final Map<String, Integer> leaseCounts = new ConcurrentHashMap<>();
    private final List<Lease> leases = new ArrayList<>();
    private final Map<String, CountDownLatch> asyncRelease = new ConcurrentHashMap<>();

    private InterProcessLock side(String name, String kind) {
        Object l = locks.get(name);
        if (l == null) throw new IllegalArgumentException("no lock " + name);
        switch (kind) {
            case "mutex": return (InterProcessMutex) l;
            case "read": return ((InterProcessReadWriteLock) l).readLock();
            case "write": return ((InterProcessReadWriteLock) l).writeLock();
            default: throw new IllegalArgumentException("kind " + kind);
        }
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "new-mutex":
                locks.put(a[0], new InterProcessMutex(client, a[1]));
                return "";
            case "new-rw":
                locks.put(a[0], new InterProcessReadWriteLock(client, a[1]));
                return "";
            case "new-sem":
                locks.put(a[0], new InterProcessSemaphoreV2(client, a[1], Integer.parseInt(a[2])));
                leaseCounts.put(a[0], Integer.parseInt(a[2]));
                return "";
            case "acquire": {
                long ms = Long.parseLong(a[2]);
                if (a[1].equals("lease")) {
                    Lease l = ((InterProcessSemaphoreV2) locks.get(a[0])).acquire(ms, TimeUnit.MILLISECONDS);
                    if (l == null) return "false";
                    synchronized (leases) { leases.add(l); }
                    return "true";
                }
                return Boolean.toString(side(a[0], a[1]).acquire(ms, TimeUnit.MILLISECONDS));
            }
            case "release":
                if (a[1].equals("lease")) {
                    synchronized (leases) {
                        for (Lease l : leases) l.close();
                        leases.clear();
                    }
                    return "";
                }
                side(a[0], a[1]).release();
                return "";
            case "acquire-async": {
                String name = a[0];
                InterProcessLock lock = side(name, a[1]);
                CountDownLatch rel = new CountDownLatch(1);
                asyncRelease.put(name, rel);
                Thread t = new Thread(() -> {
                    try {
                        lock.acquire();
                        event("acquired " + name);
                        rel.await();
                        lock.release();
                        event("released " + name);
                    } catch (Throwable e) {
                        event("async-failed " + name + " " + e);
                    }
                }, "async-" + name);
                t.setDaemon(true);
                t.start();
                return "";
            }
            case "revocable": {
                String name = a[0];
                ((InterProcessMutex) locks.get(name)).makeRevocable(l -> event("revoke " + name));
                return "";
            }
            case "revoke":
                Revoker.attemptRevoke(client, a[0]);
                return "";
            case "dump":
                for (Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
                    System.err.println("thread " + t.getKey().getName() + " " + t.getKey().getState());
                    for (StackTraceElement e : t.getValue()) System.err.println("    at " + e);
                }
                System.err.flush();
                return "";
            case "data":
                return new String(client.getData().forPath(a[0]), StandardCharsets.UTF_8);
            case "release-async": {
                CountDownLatch rel = asyncRelease.remove(a[0]);
                if (rel == null) throw new IllegalStateException("nothing held async for " + a[0]);
                rel.countDown();
                return "";
            }
            case "nodes": {
                Object l = locks.get(a[0]);
                Collection<String> nodes;
                if (l instanceof InterProcessSemaphoreV2) {
                    nodes = ((InterProcessSemaphoreV2) l).getParticipantNodes();
                } else if (a[1].equals("mutex")) {
                    nodes = ((InterProcessMutex) l).getParticipantNodes();
                } else if (a[1].equals("read")) {
                    nodes = ((InterProcessReadWriteLock) l).readLock().getParticipantNodes();
                } else {
                    nodes = ((InterProcessReadWriteLock) l).writeLock().getParticipantNodes();
                }
                return String.join(",", nodes);
            }
            case "loop": {
                String name = a[0], kind = a[1], dir = a[3], tag = a[4];
                int n = Integer.parseInt(a[2]);
                long hold = Long.parseLong(a[5]);
                int threads = a.length > 6 ? Integer.parseInt(a[6]) : 1;
                AtomicInteger count = new AtomicInteger(), violations = new AtomicInteger();
                AtomicInteger running = new AtomicInteger(threads);
                for (int t = 0; t < threads; t++) {
                    Thread th = new Thread(() -> {
                        try {
                            for (int i = 0; i < n; i++) {
                                once(name, kind, dir, tag, hold, violations);
                                count.incrementAndGet();
                            }
                            if (running.decrementAndGet() == 0) {
                                event("loop-done " + tag + " " + count.get() + " " + violations.get());
                            }
                        } catch (Throwable e) {
                            event("loop-failed " + tag + " " + e);
                        }
                    }, "loop-" + tag + "-" + t);
                    th.setDaemon(true);
                    th.start();
                }
                return "";
            }
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    /** One acquisition, the marker checks while holding, the release. */
    private void once(String name, String kind, String dir, String tag, long hold, AtomicInteger violations)
            throws Exception {
        if (kind.equals("lease")) {
            Lease lease = ((InterProcessSemaphoreV2) locks.get(name)).acquire(60, TimeUnit.SECONDS);
            if (lease == null) throw new IllegalStateException("no lease in 60 s");
            try {
                String me = client.create().creatingParentsIfNeeded()
                    .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(dir + "/holders/h-", bytes(tag));
                int holders = client.getChildren().forPath(dir + "/holders").size();
                if (holders > leaseCounts.get(name)) violations.incrementAndGet();
                log(dir, tag);
                sleep(hold);
                client.delete().forPath(me);
            } finally {
                lease.close();
            }
            return;
        }
        InterProcessLock lock = side(name, kind);
        if (!lock.acquire(60, TimeUnit.SECONDS)) throw new IllegalStateException("not acquired in 60 s");
        try {
            if (kind.equals("read")) {
                String me = client.create().creatingParentsIfNeeded()
                    .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(dir + "/readers/r-", bytes(tag));
                if (client.checkExists().forPath(dir + "/exclusive") != null) violations.incrementAndGet();
                log(dir, tag);
                sleep(hold);
                client.delete().forPath(me);
            } else {
                try {
                    client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL)
                        .forPath(dir + "/exclusive", bytes(tag));
                } catch (KeeperException.NodeExistsException e) {
                    violations.incrementAndGet();
                    return;
                }
                if (kind.equals("write") && client.checkExists().forPath(dir + "/readers") != null
                        && !client.getChildren().forPath(dir + "/readers").isEmpty()) {
                    violations.incrementAndGet();
                }
                log(dir, tag);
                sleep(hold);
                client.delete().forPath(dir + "/exclusive");
            }
        } finally {
            lock.release();
        }
    }

    private void log(String dir, String tag) throws Exception {
        client.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(dir + "/log/e-", bytes(tag));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void sleep(long ms) throws InterruptedException {
        if (ms > 0) Thread.sleep(ms);
    }
}

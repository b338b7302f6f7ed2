package anchor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.KeeperException;

/**
 * One run: its options, its root znode {@code /bench-<pid>}, its result line and every session
 * it opened, plus the pipelined setup and cleanup helpers the workloads share.
 */
final class Run {
    final Options opts;
    final String root = "/bench-" + ProcessHandle.current().pid();
    final JsonLine line;
    private final List<CuratorFramework> sessions = new ArrayList<>();

    Run(Options opts, String client) {
        this.opts = opts;
        this.line = new JsonLine(client, opts.workload);
    }

    /** A new connected session (the first one is the run's admin and writer, "B"). */
    CuratorFramework session() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(opts.connect)
                .sessionTimeoutMs(30_000)
                .connectionTimeoutMs(15_000)
                .retryPolicy(new RetryNTimes(3, 100))
                .build();
        sessions.add(c);
        c.start();
        if (!c.blockUntilConnected(15, TimeUnit.SECONDS))
            throw new IllegalStateException("no connection to " + opts.connect + " within 15 s");
        return c;
    }

    /** Closes every session but the first, newest first (so their watchers see no cleanup). */
    void closeOthers() {
        for (int i = sessions.size() - 1; i >= 1; i--) quietClose(sessions.get(i));
    }

    void closeAll() {
        for (CuratorFramework c : sessions) quietClose(c);
    }

    static void quietClose(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // closing at the end of a run: nothing left to report it to
        }
    }

    void createChildren(CuratorFramework c, String dir, String prefix, int n, byte[] data) throws Exception {
        Inflight w = new Inflight(opts.inflight, n);
        for (int i = 0; i < n; i++) {
            w.next();
            c.create().inBackground(w.callback()).forPath(dir + "/" + prefix + i, data);
        }
        w.await(300);
    }

    /** {@code n} setData calls on {@code dir/prefix(i % modulo)}, pipelined. */
    void setChildren(CuratorFramework c, String dir, String prefix, int n, int modulo, byte[] data) throws Exception {
        Inflight w = new Inflight(opts.inflight, n);
        for (int i = 0; i < n; i++) {
            w.next();
            c.setData().inBackground(w.callback()).forPath(dir + "/" + prefix + (i % modulo), data);
        }
        w.await(300);
    }

    /** Deletes {@code top} and everything under it: deepest level first, each level pipelined. */
    void removeTree(CuratorFramework c, String top) throws Exception {
        List<List<String>> levels = new ArrayList<>();
        levels.add(List.of(top));
        while (true) {
            List<String> below = new ArrayList<>();
            for (String p : levels.get(levels.size() - 1)) {
                try {
                    for (String kid : c.getChildren().forPath(p)) below.add(p + "/" + kid);
                } catch (KeeperException.NoNodeException gone) {
                    // deleted meanwhile: nothing below it either
                }
            }
            if (below.isEmpty()) break;
            levels.add(below);
        }
        for (int l = levels.size() - 1; l >= 0; l--) {
            List<String> level = levels.get(l);
            Inflight w = new Inflight(opts.inflight, level.size());
            for (String p : level) {
                w.next();
                c.delete().inBackground((client, ev) -> {
                    int rc = ev.getResultCode();
                    w.done(rc == KeeperException.Code.NONODE.intValue() ? 0 : rc);
                }).forPath(p);
            }
            w.await(300);
        }
    }
}

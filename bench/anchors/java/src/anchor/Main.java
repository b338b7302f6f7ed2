package anchor;

import java.io.InputStream;
import java.util.Properties;

import org.apache.curator.framework.CuratorFramework;

/**
 * The bench/ anchor harness for Apache Curator (Debian's 5.4 jars, on the ZooKeeper 3.8 Java
 * client): the common command line, one JSON line on stdout, exit 0 (1 with an "error"
 * field, 2 on bad usage). bench/README.md defines the workloads; {@link Requests},
 * {@link Watches} and {@link Recipes} implement them through Curator's public API as a user
 * writes it.
 */
public final class Main {
    private Main() { }

    static final String USAGE = "usage: run.sh --connect HOST:PORT --workload NAME [--ops N] [--threads T] "
            + "[--inflight K] [--nodes W] [--size BYTES]";

    /** One workload, given the run and its admin session ("B"). */
    interface Workload {
        void run(Run r, CuratorFramework admin) throws Exception;
    }

    static Workload workload(String name) {
        switch (name) {
            case "get-sync": return Requests::getSync;
            case "get-threads": return Requests::getThreads;
            case "get-pipelined": return Requests::getPipelined;
            case "create-delete": return Requests::createDelete;
            case "watch-fanout": return Watches::watchFanout;
            case "persistent-recursive": return Watches::persistentRecursive;
            case "cache-load": return Watches::cacheLoad;
            case "lock-uncontended": return Recipes::lockUncontended;
            case "lock-contended": return Recipes::lockContended;
            case "leader-failover": return Recipes::leaderFailover;
            default: return null;
        }
    }

    /** "curator-" and the version in the jar's Maven metadata, so the name follows the jar. */
    static String clientName() {
        String path = "/META-INF/maven/org.apache.curator/curator-framework/pom.properties";
        try (InputStream in = CuratorFramework.class.getResourceAsStream(path)) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return "curator-" + p.getProperty("version", "unknown");
            }
        } catch (Exception ignored) {
            // fall through
        }
        return "curator-unknown";
    }

    public static void main(String[] args) {
        Options opts;
        Workload w;
        try {
            opts = Options.parse(args);
            w = workload(opts.workload);
            if (w == null) throw new IllegalArgumentException("unknown workload " + opts.workload);
        } catch (IllegalArgumentException e) {
            System.err.println(USAGE + "\n" + e.getMessage());
            System.exit(2);
            return;
        }
        Run r = new Run(opts, clientName());
        Throwable failure = null; // the first one: a failed cleanup must not hide its cause
        try {
            CuratorFramework admin = r.session();
            admin.create().forPath(r.root);
            try {
                w.run(r, admin);
            } catch (Throwable e) {
                failure = e;
            }
            r.closeOthers();
            try {
                r.removeTree(admin, r.root);
            } catch (Throwable e) {
                if (failure == null) failure = e;
            }
        } catch (Throwable e) {
            failure = e;
        } finally {
            r.closeAll();
        }
        int code = 0;
        if (failure != null) {
            r.line.set("error", String.valueOf(failure));
            code = 1;
        }
        System.out.println(r.line.render());
        System.out.flush();
        // Some of Curator's and ZooKeeper's threads are not daemons: leave now.
        System.exit(code);
    }
}

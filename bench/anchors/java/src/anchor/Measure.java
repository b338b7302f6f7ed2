package anchor;

import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/** Constants and small measuring helpers shared by every workload (bench/README.md). */
final class Measure {
    private Measure() { }

    /** A warm-up lasts at least this long (and at least N/10 operations). */
    static final long WARMUP_NS = TimeUnit.SECONDS.toNanos(3);
    /** How long a watch workload waits for missing events after the writer's last reply. */
    static final long EVENT_GRACE_NS = TimeUnit.SECONDS.toNanos(30);
    /** How long persistent-recursive's read-backs may still run after the events are in. */
    static final long VERIFY_GRACE_NS = TimeUnit.SECONDS.toNanos(10);
    /** The longest one lock acquisition or leader hand-over may take before the run fails. */
    static final long RECIPE_LIMIT_NS = TimeUnit.SECONDS.toNanos(60);
    /** How often a waiting main thread re-reads the leadership flags when nothing woke it. */
    static final long LEADER_RECHECK_NS = TimeUnit.MICROSECONDS.toNanos(100);
    /** Children of persistent-recursive, written round robin. */
    static final int PR_CHILDREN = 100;

    /** The untimed warm-up: {@code while (w.more(1)) op();}. */
    static final class Warmup {
        private final long start = System.nanoTime();
        private final int minOps;
        private int done;

        Warmup(int minOps) { this.minOps = minOps; }

        /** True when another step of {@code step} operations is due (and counts it as done). */
        boolean more(int step) {
            if (done >= minOps && System.nanoTime() - start >= WARMUP_NS) return false;
            done += step;
            return true;
        }

        int done() { return done; }
    }

    /** Nearest-rank percentile of an ascending array (0 when empty). */
    static long percentile(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(1, Math.min(sorted.length, rank)) - 1];
    }

    /** Seconds with microsecond resolution, as the JSON line carries them. */
    static double secs(long ns) { return Math.round(ns / 1e3) / 1e6; }

    static double round1(double v) { return Math.round(v * 10) / 10.0; }

    static byte[] payload(int size) {
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) 'x');
        return b;
    }

    /** This process's resident set (VmRSS) in KiB, or -1. */
    static long rssKib() {
        try {
            for (String l : Files.readAllLines(Paths.get("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        } catch (Exception e) {
            // no /proc: reported as -1
        }
        return -1;
    }
}

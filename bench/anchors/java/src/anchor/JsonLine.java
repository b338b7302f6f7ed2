package anchor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one JSON line a run prints (bench/README.md, "The JSON line"): top-level fields in the
 * order they were first set, then {@code extra}. Written by hand: the harness has no JSON
 * library on its class path.
 */
final class JsonLine {
    private final Map<String, Object> fields = new LinkedHashMap<>();
    private final Map<String, Object> extra = new LinkedHashMap<>();

    JsonLine(String client, String workload) {
        fields.put("client", client);
        fields.put("workload", workload);
    }

    void set(String key, Object value) { fields.put(key, value); }

    void extra(String key, Object value) { extra.put(key, value); }

    /** A timed phase of {@code ops} operations with one latency (ns) each. */
    void timed(int ops, long elapsedNs, long[] latNs) {
        long[] sorted = latNs.clone();
        Arrays.sort(sorted);
        set("ops", ops);
        set("secs", Measure.secs(elapsedNs));
        set("ops_per_sec", Measure.round1(ops / Math.max(elapsedNs / 1e9, 1e-9)));
        set("p50_us", Measure.round1(Measure.percentile(sorted, 0.50) / 1e3));
        set("p99_us", Measure.round1(Measure.percentile(sorted, 0.99) / 1e3));
    }

    /** A watch workload: {@code expected} events, {@code delivered} of them within the time. */
    void events(int expected, int delivered, long elapsedNs) {
        set("ops", expected);
        set("secs", Measure.secs(elapsedNs));
        set("ops_per_sec", Measure.round1(delivered / Math.max(elapsedNs / 1e9, 1e-9)));
        set("lost", expected - delivered);
        extra("delivered", delivered);
    }

    String render() {
        StringBuilder sb = new StringBuilder();
        Map<String, Object> all = new LinkedHashMap<>(fields);
        if (!extra.isEmpty()) all.put("extra", extra);
        write(sb, all);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v) {
        if (v instanceof Map) {
            sb.append('{');
            String sep = "";
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                sb.append(sep);
                sep = ",";
                write(sb, String.valueOf(e.getKey()));
                sb.append(':');
                write(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof Double) {
            double d = (Double) v;
            if (Double.isNaN(d) || Double.isInfinite(d)) sb.append("null");
            else if (d == Math.rint(d) && Math.abs(d) < 1e15) sb.append((long) d).append(".0");
            else sb.append(d);
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else {
            String s = String.valueOf(v);
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '"' || c == '\\') sb.append('\\').append(c);
                else if (c == '\n') sb.append("\\n");
                else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                else sb.append(c);
            }
            sb.append('"');
        }
    }
}

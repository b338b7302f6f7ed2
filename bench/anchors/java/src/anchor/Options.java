package anchor;

/**
 * The command line every harness of bench/ accepts (bench/README.md, "Command line"). Counts
 * left out are 0 and mean "the workload's default".
 */
final class Options {
    String connect = "127.0.0.1:2181";
    String workload;
    int ops;
    int threads;
    int inflight = 1000;
    int nodes;
    int size = 100;

    static Options parse(String[] args) {
        Options o = new Options();
        for (int i = 0; i < args.length; i += 2) {
            String flag = args[i];
            if (i + 1 >= args.length) throw new IllegalArgumentException(flag + " needs a value");
            String value = args[i + 1];
            switch (flag) {
                case "--connect": o.connect = value; break;
                case "--workload": o.workload = value; break;
                case "--ops": o.ops = count(flag, value); break;
                case "--threads": o.threads = count(flag, value); break;
                case "--inflight": o.inflight = count(flag, value); break;
                case "--nodes": o.nodes = count(flag, value); break;
                case "--size": o.size = count(flag, value); break;
                default: throw new IllegalArgumentException("unknown option " + flag);
            }
        }
        if (o.workload == null) throw new IllegalArgumentException("--workload is required");
        return o;
    }

    private static int count(String flag, String value) {
        try {
            int v = Integer.parseInt(value);
            if (v > 0) return v;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(flag + " wants a positive whole number, not \"" + value + "\"");
    }

    int opsOr(int dflt) { return ops > 0 ? ops : dflt; }

    int threadsOr(int dflt) { return threads > 0 ? threads : dflt; }

    int nodesOr(int dflt) { return nodes > 0 ? nodes : dflt; }
}

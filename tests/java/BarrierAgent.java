// Java Curator's DistributedDoubleBarrier members beside zk-curator's, for
// tests/interop_barriers.rs. Each member runs on its own thread; the test drives it with
// enter/leave commands and hears "event entered <name>" / "event left <name>" when the call
// returns.

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;

public class BarrierAgent extends InteropAgent {
    private final Map<String, DistributedDoubleBarrier> members = new ConcurrentHashMap<>();

    public static void main(String[] args) {
        new BarrierAgent().run(args);
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "member": // <name> <path> <qty>
                members.put(a[0], new DistributedDoubleBarrier(client, a[1], Integer.parseInt(a[2])));
                return "";
            case "enter": { // <name>: enters on a thread of its own
                DistributedDoubleBarrier b = members.get(a[0]);
                new Thread(() -> {
                    try {
                        b.enter();
                        event("entered " + a[0]);
                    } catch (Exception e) {
                        event("error " + a[0] + " " + e);
                    }
                }).start();
                return "";
            }
            case "leave": { // <name>
                DistributedDoubleBarrier b = members.get(a[0]);
                new Thread(() -> {
                    try {
                        b.leave();
                        event("left " + a[0]);
                    } catch (Exception e) {
                        event("error " + a[0] + " " + e);
                    }
                }).start();
                return "";
            }
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }
}

// Java Curator's leader recipes for tests/interop_leader.rs: LeaderLatch and LeaderSelector
// participants, named by their id, that the test starts, polls and closes.
//
//   latch-start <path> <id>     a started LeaderLatch; answers its node once it has one
//   latch-close <id>
//   selector-start <path> <id>  a started, auto-requeueing LeaderSelector whose takeLeadership()
//                               holds leadership until selector-release; answers once its node
//                               exists
//   selector-release <id>       makes the current takeLeadership() return
//   selector-close <id>
//   leaders                     the ids of the participants that lead now, comma-separated
//   participants <id>           that participant's getParticipants(): id:isLeader,...
//   node <id>                   that participant's node, if any
//
// Events: "leader <id>" / "notleader <id>" from the latch listeners and takeLeadership().

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;

public class LeaderAgent extends InteropAgent {
    public static void main(String[] args) {
        new LeaderAgent().run(args);
    }

    private final Map<String, LeaderLatch> latches = new ConcurrentHashMap<>();
    private final Map<String, Selector> selectors = new ConcurrentHashMap<>();

    /** A selector and what its takeLeadership() waits on. */
    private static final class Selector {
        LeaderSelector selector;
        final String path;
        final Semaphore release = new Semaphore(0);
        volatile boolean leading;

        Selector(String path) {
            this.path = path;
        }
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "latch-start": {
                final String id = a[1];
                LeaderLatch latch = new LeaderLatch(client, a[0], id);
                latch.addListener(new LeaderLatchListener() {
                    @Override
                    public void isLeader() {
                        event("leader " + id);
                    }

                    @Override
                    public void notLeader() {
                        event("notleader " + id);
                    }
                });
                latches.put(id, latch);
                latch.start();
                return waitForNode(() -> latch.getOurPath());
            }
            case "latch-close":
                latches.remove(a[0]).close();
                return "";
            case "selector-start": {
                final String id = a[1];
                final Selector s = new Selector(a[0]);
                s.selector = new LeaderSelector(client, a[0], new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework c) throws Exception {
                        s.leading = true;
                        event("leader " + id);
                        try {
                            s.release.acquire();
                        } finally {
                            s.leading = false;
                            event("notleader " + id);
                        }
                    }
                });
                s.selector.setId(id);
                s.selector.autoRequeue();
                selectors.put(id, s);
                s.selector.start();
                return waitForNode(() -> selectorNode(s, id));
            }
            case "selector-release":
                selectors.get(a[0]).release.release();
                return "";
            case "selector-close":
                selectors.remove(a[0]).selector.close();
                return "";
            case "leaders": {
                List<String> ids = new ArrayList<>();
                for (Map.Entry<String, LeaderLatch> e : latches.entrySet()) {
                    if (e.getValue().hasLeadership()) {
                        ids.add(e.getKey());
                    }
                }
                for (Map.Entry<String, Selector> e : selectors.entrySet()) {
                    if (e.getValue().leading) {
                        ids.add(e.getKey());
                    }
                }
                return String.join(",", ids);
            }
            case "participants": {
                Collection<Participant> ps = latches.containsKey(a[0])
                    ? latches.get(a[0]).getParticipants()
                    : selectors.get(a[0]).selector.getParticipants();
                List<String> out = new ArrayList<>();
                for (Participant p : ps) {
                    out.add(p.getId() + ":" + p.isLeader());
                }
                return String.join(",", out);
            }
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    @Override
    protected void teardown() throws Exception {
        for (LeaderLatch l : latches.values()) {
            l.close();
        }
        for (Selector s : selectors.values()) {
            s.selector.close();
        }
    }

    /** The selector's lock node: the child of its path whose data is its id. */
    private String selectorNode(Selector s, String id) throws Exception {
        for (String child : client.getChildren().forPath(s.path)) {
            String p = s.path + "/" + child;
            try {
                if (id.equals(new String(client.getData().forPath(p), StandardCharsets.UTF_8))) {
                    return p;
                }
            } catch (org.apache.zookeeper.KeeperException.NoNodeException gone) {
                // left meanwhile
            }
        }
        return null;
    }

    private interface NodeLookup {
        String get() throws Exception;
    }

    private static String waitForNode(NodeLookup lookup) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String p;
            try {
                p = lookup.get();
            } catch (org.apache.zookeeper.KeeperException.NoNodeException notYet) {
                p = null;
            }
            if (p != null) {
                return p;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("no node after 30 s");
    }
}

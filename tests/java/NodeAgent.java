// Java Curator's PersistentNode, PersistentTtlNode and GroupMember beside zk-curator's, for
// tests/interop_nodes.rs.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.zookeeper.CreateMode;

public class NodeAgent extends InteropAgent {
    private PersistentNode node;
    private GroupMember member;
    private final Map<String, PersistentTtlNode> ttlNodes = new HashMap<>();

    public static void main(String[] args) {
        new NodeAgent().run(args);
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "node-start": { // <mode> <path> <data>: a PersistentNode; answers its path
                node = new PersistentNode(client, CreateMode.valueOf(a[0]), false, a[1],
                    a[2].getBytes(StandardCharsets.UTF_8));
                node.start();
                if (!node.waitForInitialCreate(20, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("not created");
                }
                return node.getActualPath();
            }
            case "node-path":
                return String.valueOf(node.getActualPath());
            case "node-close":
                node.close();
                return "";
            case "ttl-start": { // <path> <ttlMs> <data>: a PersistentTtlNode (Curator's defaults: child "touch", factor 2)
                PersistentTtlNode ttl = new PersistentTtlNode(client, a[0], Long.parseLong(a[1]),
                    a[2].getBytes(StandardCharsets.UTF_8));
                ttl.start();
                if (!ttl.waitForInitialCreate(20, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("not created");
                }
                ttlNodes.put(a[0], ttl);
                return "";
            }
            case "ttl-close": { // <path>: stops touching (the nodes stay until their TTL runs out)
                PersistentTtlNode ttl = ttlNodes.remove(a[0]);
                if (ttl == null) {
                    throw new IllegalArgumentException("no PersistentTtlNode at " + a[0]);
                }
                ttl.close();
                return "";
            }
            case "default-data": // what this client writes when given no data (Curator: the local address)
                return new String(CuratorFrameworkFactory.getLocalAddress(), StandardCharsets.UTF_8);
            case "group-start": // <path> <id> <payload>: a Java GroupMember
                member = new GroupMember(client, a[0], a[1], a[2].getBytes(StandardCharsets.UTF_8));
                member.start();
                return "";
            case "group-members": { // id=payload,... as the Java GroupMember sees them, sorted
                Map<String, byte[]> m = new TreeMap<>(member.getCurrentMembers());
                List<String> out = new ArrayList<>();
                for (Map.Entry<String, byte[]> e : m.entrySet()) {
                    out.add(e.getKey() + "=" + new String(e.getValue(), StandardCharsets.UTF_8));
                }
                return String.join(",", out);
            }
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    @Override
    protected void teardown() throws Exception {
        for (PersistentTtlNode ttl : ttlNodes.values()) {
            ttl.close();
        }
        if (member != null) {
            member.close();
        }
        if (node != null) {
            node.close();
        }
    }
}

// Java Curator's PersistentNode and GroupMember beside zk-curator's, for
// tests/interop_nodes.rs.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;

public class NodeAgent extends InteropAgent {
    private PersistentNode node;
    private GroupMember member;

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
        if (member != null) {
            member.close();
        }
        if (node != null) {
            node.close();
        }
    }
}

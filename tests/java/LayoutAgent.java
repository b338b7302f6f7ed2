// Java Curator's view of node names and node data, for tests/interop_layout.rs: protected
// sequential names, the order Curator's lock recipes sort children in, compressed data.

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.apache.curator.framework.imps.ProtectedUtils;
import org.apache.curator.framework.recipes.locks.LockInternals;
import org.apache.curator.framework.recipes.locks.StandardLockInternalsDriver;
import org.apache.zookeeper.CreateMode;

public class LayoutAgent extends InteropAgent {
    public static void main(String[] args) {
        new LayoutAgent().run(args);
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "create-protected": // <path> <data>: an ephemeral-sequential protected node
                return client.create().creatingParentContainersIfNeeded().withProtection()
                    .withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                    .forPath(a[0], a[1].getBytes(StandardCharsets.UTF_8));
            case "sorted": { // <basePath> <lockName>: children in lock order
                List<String> sorted = LockInternals.getSortedChildren(
                    client, a[0], a[1], new StandardLockInternalsDriver());
                return String.join(",", sorted);
            }
            case "is-protected": // <node name>
                return Boolean.toString(ProtectedUtils.isProtectedZNode(a[0]));
            case "set-compressed": // <path> <data>
                client.create().orSetData().compressed().creatingParentsIfNeeded()
                    .forPath(a[0], a[1].getBytes(StandardCharsets.UTF_8));
                return "";
            case "get-decompressed": // <path>
                return new String(client.getData().decompressed().forPath(a[0]), StandardCharsets.UTF_8);
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }
}

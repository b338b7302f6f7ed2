// A Java suite's view of zk-curator's standalone testing-server, for
// tests/testing_server_example.rs: the helper that docs/testing.md shows (between the doc
// markers, checked to be identical), then a run of Curator against it: stop and restart keep
// the session and the data, expire ends the session. Prints one line per step; any failure
// throws, so the program exits non-zero with the reason on stderr.
//
// Usage: java ControlChannel <path to testing-server>

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;

// doc:begin
/** zk-curator's testing-server for a JUnit test, driven through its stdin. */
final class ZkTestingServer implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    private final String connectString;

    ZkTestingServer(String binary, String... flags) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(binary, "--control-stdin", "--exit-on-stdin-close"));
        cmd.addAll(List.of(flags));
        process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        connectString = out.readLine(); // the first line: 127.0.0.1:PORT
        if (connectString == null) throw new IOException("testing-server did not start");
    }

    String getConnectString() { return connectString; }
    void stop() throws IOException { call("stop"); }     // data and sessions are kept
    void restart() throws IOException { call("restart"); }

    /** Any command (expire 0x..., pause, commit-latency 800, ...): the text after "ok". */
    synchronized String call(String command) throws IOException {
        in.write(command + "\n");
        in.flush();
        String answer = out.readLine();
        if (answer == null || !(answer.equals("ok") || answer.startsWith("ok "))) {
            throw new IOException(command + ": " + answer);
        }
        return answer.substring(2).trim();
    }

    @Override public void close() throws Exception {
        in.close(); // end of stdin: the server stops
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
    }
}
// doc:end

public class ControlChannel {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static void expect(BlockingQueue<ConnectionState> states, ConnectionState want) throws Exception {
        while (true) {
            ConnectionState s = states.poll(30, TimeUnit.SECONDS);
            check(s != null, "no " + want + " within 30 s");
            if (s == want) {
                System.out.println("state " + s);
                return;
            }
        }
    }

    public static void main(String[] args) throws Exception {
        try (ZkTestingServer server = new ZkTestingServer(args[0], "--curator")) {
            BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
            CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(server.getConnectString())
                .sessionTimeoutMs(10_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new RetryNTimes(100, 100))
                .build();
            client.getConnectionStateListenable().addListener((c, s) -> states.add(s));
            client.start();
            expect(states, ConnectionState.CONNECTED);
            client.create().forPath("/kept", "data".getBytes(StandardCharsets.UTF_8));
            long session = client.getZookeeperClient().getZooKeeper().getSessionId();
            String hex = "0x" + Long.toHexString(session);
            check(server.call("sessions").equals(hex), "sessions lists " + hex);
            System.out.println("negotiated " + client.getZookeeperClient().getZooKeeper().getSessionTimeout());

            server.stop();
            expect(states, ConnectionState.SUSPENDED);
            server.restart();
            expect(states, ConnectionState.RECONNECTED);
            long after = client.getZookeeperClient().getZooKeeper().getSessionId();
            check(after == session, "the session survives stop/restart");
            String data = new String(client.getData().forPath("/kept"), StandardCharsets.UTF_8);
            check(data.equals("data"), "the data survives stop/restart: " + data);
            System.out.println("kept " + data);

            server.call("expire " + hex);
            expect(states, ConnectionState.LOST);
            expect(states, ConnectionState.RECONNECTED);
            long fresh = client.getZookeeperClient().getZooKeeper().getSessionId();
            check(fresh != session, "a new session after the expiry");
            check(server.call("sessions").equals("0x" + Long.toHexString(fresh)), "one session");
            try {
                server.call("bogus");
                check(false, "an unknown command fails");
            } catch (IOException e) {
                System.out.println("refused " + e.getMessage());
            }
            client.close();
        }
        System.out.println("done");
    }
}

// The Java side of zk-curator's interoperability tests (tests/support/curator.rs).
//
// A program extends InteropAgent, connects a Java Curator client to the connect string given as
// its first argument and then answers one command per line on stdin with one line on stdout:
//
//   ready                    once, after the client is connected and setup() has run
//   ok [text]                a command succeeded
//   err <Class>: <message>   a command threw
//   event <text>             anything the program reports on its own (listeners, loops)
//   fatal <text>             the program gives up (then exits 1)
//
// Commands run one at a time on the main thread; a program that needs concurrency starts its
// own threads and reports through event lines. End of stdin (the test dropped the agent, or the
// test process died) closes everything and exits, so no JVM outlives its test.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

public abstract class InteropAgent {
    private static final Object OUT = new Object();

    /** The agent's client, connected before setup() runs. */
    protected CuratorFramework client;

    /** Writes one line to the test, whole (lines from several threads never interleave). */
    public static void emit(String line) {
        synchronized (OUT) {
            System.out.println(line.replace('\n', ' '));
            System.out.flush();
        }
    }

    /** Reports something the test may wait for: "event <text>". */
    public static void event(String text) {
        emit("event " + text);
    }

    /** Called once the client is connected, with the program's arguments after the connect string. */
    protected void setup(String[] args) throws Exception {}

    /** Answers one command; the returned text follows "ok". Throw to answer "err". */
    protected abstract String handle(String cmd, String[] args) throws Exception;

    /** Called before the client closes (at "quit" or end of stdin). */
    protected void teardown() throws Exception {}

    /** The session timeout the agent's client asks for, in ms (env ZK_INTEROP_SESSION_MS). */
    protected int sessionTimeoutMs() {
        String s = System.getenv("ZK_INTEROP_SESSION_MS");
        return s == null ? 10_000 : Integer.parseInt(s);
    }

    protected final void run(String[] argv) {
        try {
            client = CuratorFrameworkFactory.builder()
                .connectString(argv[0])
                .sessionTimeoutMs(sessionTimeoutMs())
                .connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(50, 20, 500))
                .build();
            client.start();
            if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
                emit("fatal not connected to " + argv[0]);
                System.exit(1);
            }
            setup(Arrays.copyOfRange(argv, 1, argv.length));
        } catch (Throwable t) {
            emit("fatal " + describe(t));
            System.exit(1);
        }
        emit("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            String line;
            while ((line = in.readLine()) != null) {
                String[] words = line.trim().split("\\s+");
                if (words.length == 0 || words[0].isEmpty()) {
                    continue;
                }
                if (words[0].equals("quit")) {
                    break;
                }
                try {
                    String answer = handle(words[0], Arrays.copyOfRange(words, 1, words.length));
                    emit(answer == null || answer.isEmpty() ? "ok" : "ok " + answer);
                } catch (Throwable t) {
                    emit("err " + describe(t));
                }
            }
        } catch (Throwable t) {
            emit("fatal " + describe(t));
        }
        try {
            teardown();
        } catch (Throwable t) {
            emit("fatal teardown: " + describe(t));
        }
        client.close();
        emit("bye");
        System.exit(0);
    }

    private static String describe(Throwable t) {
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}

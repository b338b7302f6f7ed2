// Java Curator's service discovery (curator-x-discovery 5.4) for tests/interop_discovery.rs, and
// the generator of the JSON fixtures in tests/fixtures/discovery/ that tests/discovery_json.rs
// checks zk-curator's serializer against.
//
// As an agent (see InteropAgent.java) it registers and discovers instances whose payload is an
// InstanceDetails (below).
//
// As a generator (and with --roundtrip <compat|full>: each hex JSON line on stdin read and
// written again by Curator's serializer) it needs no server:
//
//   CP=/usr/share/java/curator-x-discovery.jar:/usr/share/java/curator-framework.jar:\
//   /usr/share/java/curator-client.jar:/usr/share/java/zookeeper.jar:/usr/share/java/guava.jar:\
//   /usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:\
//   /usr/share/java/jackson-annotations.jar:/usr/share/java/slf4j-api.jar
//   javac -cp $CP -d /tmp/discovery tests/java/InteropAgent.java tests/java/DiscoveryAgent.java
//   java -cp /tmp/discovery:$CP DiscoveryAgent --write-fixtures tests/fixtures/discovery
//
// writes one file per case, the exact bytes JsonInstanceSerializer produced (the test
// `fixtures_are_what_java_writes` runs it again and compares).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceInstanceBuilder;
import org.apache.curator.x.discovery.ServiceType;
import org.apache.curator.x.discovery.UriSpec;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.details.ServiceCacheListener;

public class DiscoveryAgent extends InteropAgent {
    private static final HexFormat HEX = HexFormat.of();

    private ServiceDiscovery<InstanceDetails> discovery;
    private final Map<String, ServiceInstance<InstanceDetails>> mine = new LinkedHashMap<>();
    private final List<ServiceCache<InstanceDetails>> caches = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--write-fixtures")) {
            writeFixtures(Paths.get(args[1]));
            return;
        }
        if (args.length == 2 && args[0].equals("--roundtrip")) {
            roundtrip(args[1].equals("compat"));
            return;
        }
        new DiscoveryAgent().run(args);
    }

    @Override
    protected String handle(String cmd, String[] a) throws Exception {
        switch (cmd) {
            case "start": { // <basePath>
                discovery = ServiceDiscoveryBuilder.builder(InstanceDetails.class)
                    .client(client).basePath(a[0]).build();
                discovery.start();
                return "";
            }
            case "register": { // <name> <id> <port>: the instance `expected` of the Rust test
                ServiceInstance<InstanceDetails> i = ServiceInstance.<InstanceDetails>builder()
                    .name(a[0]).id(a[1]).address("192.0.2.10")
                    .port(Integer.parseInt(a[2])).sslPort(Integer.parseInt(a[2]) + 1)
                    .payload(new InstanceDetails("java " + a[1], Integer.parseInt(a[2]) % 100,
                        Arrays.asList("java", a[1]), 0.5))
                    .uriSpec(new UriSpec("{scheme}://{address}:{ssl-port}/v1/{name}"))
                    .build();
                discovery.registerService(i);
                mine.put(a[1], i);
                return Long.toString(i.getRegistrationTimeUTC());
            }
            case "unregister": { // <id>
                discovery.unregisterService(mine.remove(a[0]));
                return "";
            }
            case "describe": { // <name>: every instance, one per ' ; ', sorted by id
                Collection<ServiceInstance<InstanceDetails>> all = discovery.queryForInstances(a[0]);
                return all.stream().sorted(Comparator.comparing(ServiceInstance::getId))
                    .map(DiscoveryAgent::describe).collect(Collectors.joining(" ; "));
            }
            case "cache-start": { // <name>: a ServiceCache reporting "event changed <ids>"
                ServiceCache<InstanceDetails> cache =
                    discovery.serviceCacheBuilder().name(a[0]).build();
                cache.addListener(new ServiceCacheListener() {
                    @Override
                    public void cacheChanged() {
                        event("changed " + ids(cache));
                    }

                    @Override
                    public void stateChanged(CuratorFramework c, ConnectionState s) {
                        event("state " + s);
                    }
                });
                cache.start();
                caches.add(cache);
                return ids(cache);
            }
            case "cache-ids": // the ids in the last cache started
                return ids(caches.get(caches.size() - 1));
            case "expire-session": // as Curator's tests do: the client sees Expired
                client.getZookeeperClient().getZooKeeper().getTestable().injectSessionExpiration();
                return "";
            default:
                throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    @Override
    protected void teardown() throws Exception {
        for (ServiceCache<InstanceDetails> c : caches) {
            c.close();
        }
        if (discovery != null) {
            discovery.close();
        }
    }

    private static String ids(ServiceCache<InstanceDetails> cache) {
        return cache.getInstances().stream().map(ServiceInstance::getId).sorted()
            .collect(Collectors.joining(","));
    }

    /** Every field of an instance, as the Rust test writes the line it expects. */
    static String describe(ServiceInstance<?> i) {
        return String.join("|", i.getId(), i.getName(), String.valueOf(i.getAddress()),
            String.valueOf(i.getPort()), String.valueOf(i.getSslPort()),
            String.valueOf(i.getPayload()), Long.toString(i.getRegistrationTimeUTC()),
            String.valueOf(i.getServiceType()), i.buildUriSpec(), Boolean.toString(i.isEnabled()));
    }

    // ---- without a server ----

    /** Each stdin line (hex JSON) read with Curator's serializer and written again (hex). */
    private static void roundtrip(boolean compat) throws Exception {
        JsonInstanceSerializer<Object> s = new JsonInstanceSerializer<>(Object.class, compat);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (!line.isEmpty()) {
                System.out.println(HEX.formatHex(s.serialize(s.deserialize(HEX.parseHex(line)))));
            }
        }
    }

    private static void writeFixtures(Path dir) throws Exception {
        Files.createDirectories(dir);
        JsonInstanceSerializer<Object> compat = new JsonInstanceSerializer<>(Object.class);
        JsonInstanceSerializer<Object> full = new JsonInstanceSerializer<>(Object.class, false);
        UriSpec spec = new UriSpec("{scheme}://{address}:{port}/api/{ id }[literal]");

        InstanceDetails details = new InstanceDetails("orders \"eu\" \u2713 tab\there \u001f",
            7, Arrays.asList("blue", "green"), 0.25);
        ServiceInstance<Object> rich = ServiceInstance.builder().name("orders")
            .id("5d1c8a0e-3b6f-4c2a-9e7d-1f2a3b4c5d6e").address("10.20.30.40").port(8080)
            .sslPort(8443).payload(details).registrationTimeUTC(1700000000000L).uriSpec(spec)
            .build();
        write(dir, "compat-pojo.json", compat.serialize(rich));
        write(dir, "full-pojo.json", full.serialize(rebuild(rich).enabled(false)
            .serviceType(ServiceType.PERMANENT).build()));

        Map<String, Object> map = new LinkedHashMap<>();
        map.put("weight", 3);
        map.put("zone", "eu-1");
        write(dir, "compat-map.json", compat.serialize(plain("map", map, ServiceType.DYNAMIC)));
        write(dir, "compat-string.json",
            compat.serialize(plain("string", "plain text", ServiceType.STATIC)));
        write(dir, "compat-list.json", compat.serialize(
            plain("list", new ArrayList<>(Arrays.asList("a", "b")), ServiceType.DYNAMIC)));
        write(dir, "compat-long.json",
            compat.serialize(plain("long", 12345678901L, ServiceType.DYNAMIC)));
        write(dir, "compat-int.json", compat.serialize(plain("int", 42, ServiceType.DYNAMIC)));
        write(dir, "compat-double.json",
            compat.serialize(plain("double", 1.0E10, ServiceType.DYNAMIC)));
        write(dir, "compat-bool.json", compat.serialize(plain("bool", true, ServiceType.DYNAMIC)));

        ServiceInstance<Object> minimal = new ServiceInstance<>("minimal", "min", null, null, null,
            null, 0L, ServiceType.DYNAMIC_SEQUENTIAL, null);
        write(dir, "compat-minimal.json", compat.serialize(minimal));
        write(dir, "full-minimal.json", full.serialize(minimal));
    }

    private static ServiceInstance<Object> plain(String id, Object payload, ServiceType type)
        throws Exception {
        return ServiceInstance.builder().name("plain").id(id).address("10.0.0.1").port(80)
            .payload(payload).registrationTimeUTC(1600000000000L).serviceType(type).build();
    }

    private static ServiceInstanceBuilder<Object> rebuild(ServiceInstance<Object> i)
        throws Exception {
        return ServiceInstance.builder().name(i.getName()).id(i.getId()).address(i.getAddress())
            .port(i.getPort()).sslPort(i.getSslPort()).payload(i.getPayload())
            .registrationTimeUTC(i.getRegistrationTimeUTC()).uriSpec(i.getUriSpec());
    }

    private static void write(Path dir, String name, byte[] bytes) throws Exception {
        Files.write(dir.resolve(name), bytes);
        System.out.println(name + " " + new String(bytes, StandardCharsets.UTF_8));
    }
}

/** The payload of the tests (Curator's documentation calls its example InstanceDetails too). */
class InstanceDetails {
    private String description;
    private int weight;
    private List<String> tags;
    private double ratio;

    public InstanceDetails() {}

    InstanceDetails(String description, int weight, List<String> tags, double ratio) {
        this.description = description;
        this.weight = weight;
        this.tags = tags;
        this.ratio = ratio;
    }

    public String getDescription() { return description; }
    public void setDescription(String d) { description = d; }
    public int getWeight() { return weight; }
    public void setWeight(int w) { weight = w; }
    public List<String> getTags() { return tags; }
    public void setTags(List<String> t) { tags = t; }
    public double getRatio() { return ratio; }
    public void setRatio(double r) { ratio = r; }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof InstanceDetails)) return false;
        InstanceDetails d = (InstanceDetails) o;
        return Objects.equals(description, d.description) && weight == d.weight
            && Objects.equals(tags, d.tags) && ratio == d.ratio;
    }

    @Override
    public int hashCode() {
        return Objects.hash(description, weight, tags, ratio);
    }

    @Override
    public String toString() {
        return "description=" + description + ",weight=" + weight + ",tags=" + tags + ",ratio=" + ratio;
    }
}

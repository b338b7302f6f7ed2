#!/usr/bin/env bash
# queue-throughput, zk-curator against Apache Curator 5.4, in one run against one real
# ZooKeeper 3.8 (Debian's jar, shared/bench/run-anchors.sh's configuration: forceSync=no):
# the Java twin (java/QueueThroughput.java) is compiled with javac against /usr/share/java,
# then both harnesses run BENCH_REPS times each, alternating which goes first.
#
#   cargo build --release --example zk-curator-bench
#   examples/zk-curator-bench/queue-throughput.sh results.jsonl     # table on stdout
#
# Knobs: BENCH_REPS (3), BENCH_ARGS (extra flags for both, e.g. "--ops 5000"), BENCH_PORT
# (21830), BENCH_TIMEOUT (600 s per run). The server is stopped (by pid) at the end.
set -euo pipefail

out="${1:?usage: $0 RESULTS.jsonl}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${BENCH_PORT:-21830}"
reps="${BENCH_REPS:-3}"
run_timeout="${BENCH_TIMEOUT:-600}"
read -r -a extra <<<"${BENCH_ARGS:-}"
ours="$root/target/release/examples/zk-curator-bench"
[ -x "$ours" ] || { echo "missing $ours: cargo build --release --example zk-curator-bench" >&2; exit 2; }
J=/usr/share/java
CP="$J/curator-framework.jar:$J/curator-client.jar:$J/curator-recipes.jar:$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/guava.jar:$J/slf4j-api.jar"
for jar in ${CP//:/ } "$J/slf4j-nop.jar"; do
  [ -f "$jar" ] || { echo "missing $jar (apt-get install libcurator-recipes-java zookeeper)" >&2; exit 2; }
done
if python3 -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1',$port))==0 else 1)"; then
  echo "port $port is taken; set BENCH_PORT" >&2
  exit 2
fi

# shellcheck source=lib.sh
. "$here/lib.sh"
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

javac -nowarn --release 17 -d "$tmp/classes" -cp "$CP" "$here/java/QueueThroughput.java"
mkdir -p "$tmp/data"
start_zookeeper "$tmp" "$port"
for _ in $(seq 150); do
  if python3 - "$port" <<'PY' 2>/dev/null; then break; fi
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
s.sendall(b"srvr")
sys.exit(0 if b"Mode:" in s.recv(4096) else 1)
PY
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
  sleep 0.2
done
log "ZooKeeper up on 127.0.0.1:$port (pid $server_pid)"

labels=(curator zk-curator)
commands=("java -Xms64m -cp $tmp/classes:$CP:$J/slf4j-nop.jar QueueThroughput" "$ours")
for ((rep = 1; rep <= reps; rep++)); do
  for j in 0 1; do
    i=$(((j + rep - 1) % 2))
    read -r -a cmd <<<"${commands[$i]}"
    run_harness "$out" "${labels[$i]}" "$rep" queue-throughput "$run_timeout" \
      "${cmd[@]}" --connect "127.0.0.1:$port" --workload queue-throughput "${extra[@]}"
  done
done

echo "queue-throughput, ZooKeeper 3.8 on 127.0.0.1:$port, $reps repetition(s), medians; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    if r.get("workload") == "queue-throughput":
        by.setdefault(r["harness"], []).append(r)
print("| harness | runs | items | median items/s | p50 us | p99 us | put secs | cpu us/item | lost | errors |")
print("|---|---|---|---|---|---|---|---|---|---|")
med = {}
for h in ("curator", "zk-curator"):
    rs = [r for r in by.get(h, []) if "error" not in r]
    errs = len(by.get(h, [])) - len(rs)
    if not rs:
        print(f"| {h} | 0 | - | - | - | - | - | - | - | {errs} |")
        continue
    m = lambda k: statistics.median([r[k] for r in rs if k in r]) if any(k in r for r in rs) else float("nan")
    med[h] = m("ops_per_sec")
    put = statistics.median([r["extra"]["put_secs"] for r in rs])
    print(f"| {h} | {len(rs)} | {rs[0]['ops']} | {med[h]:,.0f} | {m('p50_us'):,.0f} | {m('p99_us'):,.0f} | {put:.3f} | {m('cpu_us_per_op') if h == 'zk-curator' else float('nan'):.1f} | {sum(r.get('lost', 0) for r in rs)} | {errs} |")
if "curator" in med and "zk-curator" in med and med["curator"] > 0:
    print(f"\nzk-curator / Curator: {med['zk-curator'] / med['curator']:.2f}x")
PY

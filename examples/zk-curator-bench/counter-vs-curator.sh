#!/usr/bin/env bash
# counter-increment and counter-increment-atomic (see counter.rs): zk-curator and Java Curator
# 5.4 (java/CounterBench.java) against one Apache ZooKeeper 3.8 (Debian's jar, the anchors'
# configuration: forceSync=no), alternating which goes first each repetition; JSON lines to
# RESULTS.jsonl, a table of medians and the zk-curator / Curator ratio on stdout.
#
#   cargo build --release --example zk-curator-bench
#   examples/zk-curator-bench/counter-vs-curator.sh counter.jsonl
#
# Knobs: BENCH_REPS (5), BENCH_OPS (2000), BENCH_CLIENTS (4), BENCH_PORT (21830),
# BENCH_TIMEOUT (600 s per run), BENCH_ZK=testing to run against the in-process TestingServer
# instead (needs `cargo build --release --example testing-server`).
set -euo pipefail

out="${1:?usage: $0 RESULTS.jsonl}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
port="${BENCH_PORT:-21830}"
reps="${BENCH_REPS:-5}"
ops="${BENCH_OPS:-2000}"
clients="${BENCH_CLIENTS:-4}"
run_timeout="${BENCH_TIMEOUT:-600}"
ours="$root/target/release/examples/zk-curator-bench"
[ -x "$ours" ] || { echo "missing $ours: cargo build --release --example zk-curator-bench" >&2; exit 2; }
labels=(zk-curator curator)
commands=("$ours" "$here/java/run.sh")

# shellcheck source=lib.sh
. "$here/lib.sh"

if [ "${BENCH_ZK:-real}" = testing ]; then
  start_testing_server "$root/target/release/examples/testing-server" "$port"
  what="the TestingServer"
else
  data="$(mktemp -d)"
  start_zookeeper "$data" "$port"
  trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$data"' EXIT
  what="ZooKeeper 3.8"
fi
wait_for_port "$port"
log "$what up on 127.0.0.1:$port"
# Both JVMs (the server's and Curator's) are fresh: one untimed run of each first.
"${commands[1]}" --connect "127.0.0.1:$port" --workload counter-increment --ops 500 --threads "$clients" >/dev/null 2>&1 || true
"$ours" --connect "127.0.0.1:$port" --workload counter-increment --ops 500 --threads "$clients" >/dev/null 2>&1 || true

for w in counter-increment counter-increment-atomic; do
  for ((rep = 1; rep <= reps; rep++)); do
    for ((j = 0; j < 2; j++)); do
      i=$(((j + rep - 1) % 2))
      read -r -a cmd <<<"${commands[$i]}"
      run_harness "$out" "${labels[$i]}" "$rep" "$w" "$run_timeout" \
        "${cmd[@]}" --connect "127.0.0.1:$port" --workload "$w" --ops "$ops" --threads "$clients"
    done
  done
done

echo "$what on 127.0.0.1:$port, $clients clients, $ops increments, $reps repetitions, medians; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print()
print("| workload | harness | runs | increments/s | p50 µs | p99 µs | CPU µs/op | attempts/op | errors |")
print("|---|---|---|---|---|---|---|---|---|")
med = {}
for w in ("counter-increment", "counter-increment-atomic"):
    for h in ("zk-curator", "curator"):
        rs = [r for r in rows if r.get("workload") == w and r.get("harness") == h]
        ok = [r for r in rs if "error" not in r and "ops_per_sec" in r]
        if not rs:
            continue
        m = lambda k: statistics.median([r[k] for r in ok]) if ok else float("nan")
        att = statistics.median([r["extra"]["attempts"] / r["ops"] for r in ok]) if ok else float("nan")
        med[(w, h)] = m("ops_per_sec")
        print(f"| {w} | {h} | {len(ok)} | {m('ops_per_sec'):.0f} | {m('p50_us'):.0f} | {m('p99_us'):.0f} | {m('cpu_us_per_op'):.1f} | {att:.2f} | {len(rs) - len(ok)} |")
print()
for w in ("counter-increment", "counter-increment-atomic"):
    if (w, "zk-curator") in med and (w, "curator") in med:
        print(f"{w}: zk-curator / Curator = {med[(w, 'zk-curator')] / med[(w, 'curator')]:.2f}x")
PY

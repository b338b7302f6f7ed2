#!/usr/bin/env bash
# Interleaved A/B of two zk-curator-bench binaries (an old and a new build) against one
# in-process TestingServer: for each round and workload, both binaries run back to back, the
# order swapped every round (A B, B A, ...), so that load from elsewhere on the machine falls
# on both alike. One JSON line per run (the bench's line plus "harness": "A"|"B" and "rep").
#
#   git worktree add --detach /tmp/base main
#   (cd /tmp/base && cargo build --release --example zk-curator-bench --target-dir /tmp/base-target)
#   cargo build --release --example zk-curator-bench --example testing-server
#   examples/zk-curator-bench/ab.sh /tmp/base-target/release/examples/zk-curator-bench \
#       target/release/examples/zk-curator-bench ab.jsonl
#
# Knobs: AB_ROUNDS (5), AB_WORKLOADS (get-sync get-pipelined create-delete), BENCH_PORT
# (21830), AB_SERVER (target/release/examples/testing-server).
set -euo pipefail

a="${1:?usage: $0 OLD_BENCH NEW_BENCH RESULTS.jsonl}"
b="${2:?usage: $0 OLD_BENCH NEW_BENCH RESULTS.jsonl}"
out="${3:?usage: $0 OLD_BENCH NEW_BENCH RESULTS.jsonl}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="${BENCH_PORT:-21830}"
rounds="${AB_ROUNDS:-5}"
workloads="${AB_WORKLOADS:-get-sync get-pipelined create-delete}"
server="${AB_SERVER:-$root/target/release/examples/testing-server}"
for f in "$a" "$b" "$server"; do
  [ -x "$f" ] || { echo "missing $f" >&2; exit 2; }
done

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
start_testing_server "$server" "$port"

for ((r = 1; r <= rounds; r++)); do
  for w in $workloads; do
    if ((r % 2)); then order="A B"; else order="B A"; fi
    for h in $order; do
      if [ "$h" = A ]; then bin="$a"; else bin="$b"; fi
      line="$("$bin" --connect "127.0.0.1:$port" --workload "$w" 2>/dev/null | tail -n 1)"
      LINE="$line" H="$h" R="$r" python3 -c '
import json, os
rec = json.loads(os.environ["LINE"])
rec["harness"] = os.environ["H"]
rec["rep"] = int(os.environ["R"])
print(json.dumps(rec, separators=(",", ":")))' >>"$out"
      echo "[$(date +%H:%M:%S)] round $r $w $h: $(tail -n 1 "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("ops_per_sec"))')" >&2
    done
  done
done

# Medians per workload and harness, and new/old.
python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    runs.setdefault(r["workload"], {}).setdefault(r["harness"], []).append(r["ops_per_sec"])
print("| workload | A (old) median ops/s | B (new) median ops/s | B/A | runs each |")
print("|---|---|---|---|---|")
for w, h in runs.items():
    ma, mb = statistics.median(h["A"]), statistics.median(h["B"])
    print(f"| {w} | {ma:,.0f} | {mb:,.0f} | {mb / ma:.3f} | {len(h['A'])} |")
PY

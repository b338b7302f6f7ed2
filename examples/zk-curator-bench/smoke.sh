#!/usr/bin/env bash
# Smoke test of the benchmark binary for CI: every workload, each floor, small sizes, against
# the in-process TestingServer. Fails if a run exits non-zero, prints no JSON line, reports an
# "error", loses events, lets two lock holders in or sees two leaders. Figures are not checked
# (a debug build on a CI box): that is what bench/run.sh is for. Usage: smoke.sh
# [TARGET_DIR/PROFILE] (default target/debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-target/debug}/examples"
bench="$dir/zk-curator-bench"
server="$dir/testing-server"
for f in "$bench" "$server"; do
  [ -x "$f" ] || { echo "missing $f (cargo build --examples)" >&2; exit 2; }
done
port=$((21900 + RANDOM % 90))

# shellcheck source=lib.sh
. examples/zk-curator-bench/lib.sh
start_testing_server "$server" "$port"

runs=(
  "--workload get-sync --ops 500"
  "--workload get-threads --ops 1000 --threads 4"
  "--workload get-pipelined --ops 2000 --inflight 100"
  "--workload create-delete --ops 200"
  "--workload watch-fanout --nodes 300"
  "--workload persistent-recursive --ops 1000"
  "--workload cache-load --nodes 300"
  "--workload lock-uncontended --ops 200"
  "--workload lock-contended --ops 200"
  "--workload slow-watcher --ops 500"
  "--workload restore-watches --nodes 1000"
  "--workload idle-footprint"
  "--workload leader-failover --ops 10"
  "--workload queue-throughput --ops 500"
  "--workload counter-increment --ops 200 --threads 4"
  "--workload counter-increment-atomic --ops 200 --threads 4"
  "--workload get-sync --ops 500 --client raw"
  "--workload get-pipelined --ops 2000 --inflight 100 --client raw"
  "--workload get-sync --ops 500 --client raw-hop"
  "--workload get-pipelined --ops 2000 --inflight 100 --client raw-hop"
)
failed=0
for r in "${runs[@]}"; do
  read -r -a args <<<"$r"
  set +e
  line="$(timeout 300 "$bench" --connect "127.0.0.1:$port" "${args[@]}" | tail -n 1)"
  rc=$?
  set -e
  verdict="$(RC="$rc" LINE="$line" python3 -c '
import json, os
try:
    rec = json.loads(os.environ["LINE"])
except Exception:
    print("exit %s, no JSON line" % os.environ["RC"]); raise SystemExit
if os.environ["RC"] != "0" or "error" in rec or "unsupported" in rec:
    print("exit %s: %s" % (os.environ["RC"], rec.get("error") or rec.get("unsupported")))
    raise SystemExit
if rec.get("lost") or rec.get("out_of_order"):
    print("lost %s, out_of_order %s" % (rec.get("lost"), rec.get("out_of_order"))); raise SystemExit
extra = rec.get("extra", {})
if extra.get("violations") or ("counter" in extra and extra["counter"] != rec.get("ops")):
    print("violations %s, counter %s" % (extra.get("violations"), extra.get("counter"))); raise SystemExit
if extra.get("double_leaders"):
    print("double_leaders %s" % extra["double_leaders"]); raise SystemExit
print("ok %s" % rec.get("ops_per_sec", ""))
')"
  echo "$r: $verdict"
  [[ "$verdict" == ok* ]] || failed=1
done
exit "$failed"

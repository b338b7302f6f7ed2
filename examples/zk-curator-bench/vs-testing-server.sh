#!/usr/bin/env bash
# The anchor harnesses, zk-curator and the raw-socket floor against the in-process
# TestingServer instead of Apache ZooKeeper: the same workloads, CLI and JSON lines as
# ../shared/bench/run-anchors.sh, the same rotation of the harness order per repetition.
#
#   cargo build --release --example zk-curator-bench --example testing-server
#   examples/zk-curator-bench/vs-testing-server.sh ts.jsonl     # tables on stdout
#
# Knobs: BENCH_REPS (1), BENCH_WORKLOADS (all seven), BENCH_PORT (21820), BENCH_TIMEOUT
# (600 s per run). Needs the anchor harnesses built (run-anchors.sh builds them).
set -euo pipefail

out="${1:?usage: $0 RESULTS.jsonl}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bench="$root/../shared/bench"
port="${BENCH_PORT:-21820}"
reps="${BENCH_REPS:-1}"
workloads="${BENCH_WORKLOADS:-get-sync get-threads get-pipelined create-delete watch-fanout persistent-recursive cache-load}"
run_timeout="${BENCH_TIMEOUT:-600}"
ours="$root/target/release/examples/zk-curator-bench"
server="$root/target/release/examples/testing-server"
for f in "$ours" "$server"; do
  [ -x "$f" ] || { echo "missing $f: cargo build --release --example zk-curator-bench --example testing-server" >&2; exit 2; }
done

labels=(curator zookeeper zookeeper-client kazoo zk-curator raw-socket)
commands=("$bench/java/run.sh"
  "$bench/peers/target/release/peers-bench --client zookeeper"
  "$bench/peers/target/release/peers-bench --client zookeeper-client"
  "$bench/kazoo/run.sh"
  "$ours"
  "$ours --client raw")

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The server serves until its stdin closes: a fifo this script holds open, so the server
# goes when the script does, however it ends.
fifo="$(mktemp -u)"
mkfifo "$fifo"
"$server" --port "$port" <"$fifo" >/dev/null &
server_pid=$!
exec 9>"$fifo"
rm -f "$fifo"
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
log "TestingServer up on 127.0.0.1:$port (pid $server_pid)"

n=${#labels[@]}
for w in $workloads; do
  for ((rep = 1; rep <= reps; rep++)); do
    for ((j = 0; j < n; j++)); do
      i=$(((j + rep - 1) % n))
      read -r -a cmd <<<"${commands[$i]}"
      set +e
      line="$(timeout "$run_timeout" "${cmd[@]}" --connect "127.0.0.1:$port" --workload "$w" 2>/dev/null | tail -n 1)"
      rc=$?
      set -e
      record="$(LABEL="${labels[$i]}" REP="$rep" RC="$rc" WORKLOAD="$w" LINE="$line" python3 -c '
import json, os
try:
    rec = json.loads(os.environ["LINE"])
    assert isinstance(rec, dict)
except Exception:
    rec = {"client": os.environ["LABEL"], "workload": os.environ["WORKLOAD"],
           "error": "exit %s, no JSON line" % os.environ["RC"]}
rec["harness"] = os.environ["LABEL"]
rec["rep"] = int(os.environ["REP"])
print(json.dumps(rec, separators=(",", ":")))
')"
      echo "$record" >>"$out"
      log "$w rep $rep ${labels[$i]}: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r.get("error") or r.get("unsupported") or r.get("ops_per_sec"))' "$record")"
    done
  done
done

echo "zk-curator TestingServer on 127.0.0.1:$port, $reps repetition(s), medians; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
python3 "$bench/summarize.py" "$out"

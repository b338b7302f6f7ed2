#!/usr/bin/env bash
# The anchor harnesses, zk-curator and the two floors (raw-socket, raw-hop) against a server
# of this script's choosing, with the same workloads, CLI and JSON lines as bench/run.sh and
# the same rotation of the harness order per repetition:
#
#   testing    the in-process TestingServer (`cargo run --example testing-server`);
#   zk-pinned  Apache ZooKeeper 3.8 (Debian's jar, bench/run.sh's configuration) pinned
#              with taskset to the last core, so that the clients have the other one(s) to
#              themselves: what the clients cost once they no longer share cores with the
#              server's threads.
#
#   cargo build --release --example zk-curator-bench --example testing-server
#   examples/zk-curator-bench/vs-server.sh testing ts.jsonl       # tables on stdout
#   BENCH_WORKLOADS=get-sync BENCH_REPS=3 examples/zk-curator-bench/vs-server.sh zk-pinned p.jsonl
#
# Knobs: BENCH_REPS (1), BENCH_WORKLOADS (all seven), BENCH_PORT (21820), BENCH_TIMEOUT
# (600 s per run). The anchor harnesses are those of bench/anchors; the Rust one is built
# here when it is missing (the Curator one builds itself on first use).
set -euo pipefail

kind="${1:?usage: $0 testing|zk-pinned RESULTS.jsonl}"
out="${2:?usage: $0 testing|zk-pinned RESULTS.jsonl}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bench="$root/bench"
port="${BENCH_PORT:-21820}"
reps="${BENCH_REPS:-1}"
workloads="${BENCH_WORKLOADS:-get-sync get-threads get-pipelined create-delete watch-fanout persistent-recursive cache-load}"
run_timeout="${BENCH_TIMEOUT:-600}"
ours="$root/target/release/examples/zk-curator-bench"
server="$root/target/release/examples/testing-server"
for f in "$ours" "$server"; do
  [ -x "$f" ] || { echo "missing $f: cargo build --release --example zk-curator-bench --example testing-server" >&2; exit 2; }
done

peers="$bench/anchors/peers/target/release/anchor-peers"
[ -x "$peers" ] || (cd "$bench/anchors/peers" && cargo build --release --quiet)

labels=(curator zookeeper zookeeper-client kazoo zk-curator raw-socket raw-hop)
commands=("$bench/anchors/java/run.sh"
  "$peers --client zookeeper"
  "$peers --client zookeeper-client"
  "$bench/anchors/kazoo/run.sh"
  "$ours"
  "$ours --client raw"
  "$ours --client raw-hop")

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

case "$kind" in
  testing)
    start_testing_server "$server" "$port"
    what="zk-curator TestingServer"
    ;;
  zk-pinned)
    core=$(($(nproc) - 1))
    data="$(mktemp -d)"
    start_zookeeper "$data" "$port" taskset -c "$core"
    trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$data"' EXIT
    what="ZooKeeper 3.8 pinned to core $core"
    ;;
  *)
    echo "unknown server kind $kind: testing or zk-pinned" >&2
    exit 2
    ;;
esac
wait_for_port "$port"
log "$what up on 127.0.0.1:$port (pid $server_pid)"

n=${#labels[@]}
for w in $workloads; do
  for ((rep = 1; rep <= reps; rep++)); do
    for ((j = 0; j < n; j++)); do
      i=$(((j + rep - 1) % n))
      read -r -a cmd <<<"${commands[$i]}"
      run_harness "$out" "${labels[$i]}" "$rep" "$w" "$run_timeout" \
        "${cmd[@]}" --connect "127.0.0.1:$port" --workload "$w"
    done
  done
done

echo "$what on 127.0.0.1:$port, $reps repetition(s), medians; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
echo
python3 "$bench/summarize.py" "$out"

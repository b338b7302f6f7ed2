#!/usr/bin/env bash
# Every workload x every harness against one fresh ZooKeeper 3.8 that this script starts and
# stops itself, then Markdown tables of medians (bench/summarize.py). See bench/README.md.
#
#   bench/run.sh RESULTS.jsonl          # tables on stdout, progress on stderr
#
# It builds what it runs (the Curator harness with javac, the Rust anchors and zk-curator's
# benchmark binary with cargo --release), picks a free port on 127.0.0.1 (it never talks to
# a server it did not start), keeps the server's data in a temporary directory, warms the
# server up with untimed runs, then for each workload runs every harness BENCH_REPS times,
# rotating the harness order on each repetition. RESULTS.jsonl receives a first line
# {"run": {...}} and then each harness's JSON line plus "harness" and "rep".
#
# Knobs (environment):
#   BENCH_REPS       repetitions per workload and harness (3)
#   BENCH_WORKLOADS  space-separated workloads (all ten)
#   BENCH_HARNESSES  space-separated labels out of: curator zookeeper zookeeper-client kazoo
#                    zk-curator raw-socket raw-hop (all)
#   BENCH_EXTRA      newline-separated "label=command" harnesses to add
#   BENCH_ARGS       extra arguments for every run, e.g. "--ops 300 --nodes 300" (smoke run)
#   BENCH_PORT       the server's port (default: the first free one from 21810 up)
#   BENCH_TIMEOUT    seconds allowed for one run (600)
#   BENCH_WARMUP     0 skips the server's warm-up runs (1)
#   BENCH_BUILD      0 skips the builds (1)
# Exit status: 0 when every run produced a line without "error" and every check is 0.
set -euo pipefail

bench="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$bench")"
out="${1:?usage: bench/run.sh RESULTS.jsonl}"
: >"$out"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

reps="${BENCH_REPS:-3}"
workloads="${BENCH_WORKLOADS:-get-sync get-threads get-pipelined create-delete watch-fanout persistent-recursive cache-load lock-uncontended lock-contended leader-failover}"
run_timeout="${BENCH_TIMEOUT:-600}"
read -r -a run_args <<<"${BENCH_ARGS:-}"

ours="$repo/target/release/examples/zk-curator-bench"
peers="$bench/anchors/peers/target/release/anchor-peers"
declare -A known=(
  [curator]="$bench/anchors/java/run.sh"
  [zookeeper]="$peers --client zookeeper"
  [zookeeper-client]="$peers --client zookeeper-client"
  [kazoo]="$bench/anchors/kazoo/run.sh"
  [zk-curator]="$ours"
  [raw-socket]="$ours --client raw"
  [raw-hop]="$ours --client raw-hop"
)
labels=()
commands=()
for label in ${BENCH_HARNESSES:-curator zookeeper zookeeper-client kazoo zk-curator raw-socket raw-hop}; do
  [ -n "${known[$label]:-}" ] || { echo "unknown harness $label; known: ${!known[*]}" >&2; exit 2; }
  labels+=("$label")
  commands+=("${known[$label]}")
done
while IFS= read -r line; do
  [ -z "$line" ] && continue
  labels+=("${line%%=*}")
  commands+=("${line#*=}")
done <<<"${BENCH_EXTRA:-}"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
uses() { [[ " ${labels[*]} " == *" $1 "* ]]; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ------------------------------------------------------------------------------ builds
if [ "${BENCH_BUILD:-1}" != "0" ]; then
  if uses curator; then
    log "building the Curator harness (javac)"
    "$bench/anchors/java/build.sh"
  fi
  if uses zookeeper || uses zookeeper-client; then
    log "building the Rust anchors (cargo build --release in bench/anchors/peers)"
    (cd "$bench/anchors/peers" && cargo build --release --quiet)
  fi
  if uses zk-curator || uses raw-socket || uses raw-hop; then
    log "building zk-curator-bench (cargo build --release --example zk-curator-bench)"
    (cd "$repo" && cargo build --release --quiet --example zk-curator-bench)
  fi
fi
if uses kazoo && ! "${KAZOO_PYTHON:-/usr/bin/python3}" -c 'import kazoo' 2>/dev/null; then
  echo "kazoo is not importable: apt-get install python3-kazoo, or leave kazoo out of BENCH_HARNESSES" >&2
  exit 2
fi
for f in /usr/share/java/zookeeper.jar /usr/share/java/slf4j-nop.jar; do
  [ -f "$f" ] || { echo "missing $f: apt-get install zookeeper libslf4j-java" >&2; exit 2; }
done

# ------------------------------------------------------------------------------ server
# The first port from 21810 up that nothing listens on (a bind test on 127.0.0.1).
free_port() {
  python3 -c '
import socket
for port in range(21810, 22810):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(port)
        break
    except OSError:
        pass
    finally:
        s.close()
'
}
port="${BENCH_PORT:-$(free_port)}"
[ -n "$port" ] || { echo "no free port between 21810 and 22809" >&2; exit 1; }
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "something already listens on 127.0.0.1:$port; choose another BENCH_PORT" >&2
  exit 1
fi

# four_letter WORD: the server's answer to a four-letter command.
four_letter() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf '%s' "$1" >&3
    timeout 5 cat <&3
  ) 2>/dev/null
}

tmp="$(mktemp -d -t zk-curator-bench.XXXXXX)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/data"
cat >"$tmp/zoo.cfg" <<EOF
tickTime=2000
dataDir=$tmp/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
forceSync=no
maxClientCnxns=0
4lw.commands.whitelist=*
EOF
# shellcheck disable=SC2086
java ${BENCH_SERVER_JAVA_OPTS:-} -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar \
  org.apache.zookeeper.server.ZooKeeperServerMain "$tmp/zoo.cfg" >"$tmp/server.log" 2>&1 &
server_pid=$!
# Ready when the server on the port serves and names this run's data directory: so it is
# ours, not another one that took the port meanwhile.
for _ in $(seq 150); do
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "the server exited" >&2; exit 1; }
  if four_letter conf | grep -qF "$tmp/data" && four_letter srvr | grep -q '^Mode:'; then
    break
  fi
  sleep 0.2
done
four_letter conf | grep -qF "$tmp/data" || { echo "the server did not come up on 127.0.0.1:$port" >&2; exit 1; }
version="$(four_letter srvr | sed -n 's/^Zookeeper version: \([0-9.]*\).*/\1/p')"
mntr_field() { echo "$1" | awk -v k="$2" '$1==k{print $2}'; }
znodes_before="$(mntr_field "$(four_letter mntr)" zk_znode_count)"
log "ZooKeeper $version on 127.0.0.1:$port (pid $server_pid, data in $tmp); load average $(loadavg)"

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
started="$(date -u +%Y-%m-%dT%H:%MZ)"
RUN_META="$(
  VERSION="$version" PORT="$port" REPS="$reps" COMMIT="$commit" STARTED="$started" LOAD="$(loadavg)" \
    ARGS="${BENCH_ARGS:-}" python3 -c '
import json, os
e = os.environ
print(json.dumps({"run": {"server": "ZooKeeper " + e["VERSION"], "port": int(e["PORT"]),
    "repetitions": int(e["REPS"]), "cores": os.cpu_count(), "zk_curator_commit": e["COMMIT"],
    "started": e["STARTED"], "load_at_start": e["LOAD"], "args": e["ARGS"]}}, separators=(",", ":")))'
)"
echo "$RUN_META" >>"$out"

# ------------------------------------------------------------------------------ warm-up
# The server is a fresh JVM: let it compile its request paths before anything counts.
if [ "${BENCH_WARMUP:-1}" != "0" ]; then
  read -r -a cmd <<<"${commands[0]}"
  log "warming the server up with ${labels[0]} (results discarded)"
  for w in "get-pipelined --ops 20000" "create-delete --ops 2000" "watch-fanout --nodes 2000" \
    "persistent-recursive --ops 2000" "cache-load --nodes 2000" "lock-contended --ops 300"; do
    read -r -a wargs <<<"$w"
    timeout "$run_timeout" "${cmd[@]}" --connect "127.0.0.1:$port" --workload "${wargs[@]}" >/dev/null 2>&1 || true
  done
fi

# ------------------------------------------------------------------------------ runs
n=${#labels[@]}
failures=0
for w in $workloads; do
  for ((rep = 1; rep <= reps; rep++)); do
    for ((j = 0; j < n; j++)); do
      i=$(((j + rep - 1) % n)) # each repetition starts one harness later
      read -r -a cmd <<<"${commands[$i]}"
      set +e
      line="$(timeout "$run_timeout" "${cmd[@]}" --connect "127.0.0.1:$port" --workload "$w" \
        ${run_args[@]+"${run_args[@]}"} 2>"$tmp/stderr" | tail -n 1)"
      rc=$?
      set -e
      record="$(LINE="$line" RC="$rc" LABEL="${labels[$i]}" REP="$rep" WORKLOAD="$w" \
        STDERR="$(tail -c 400 "$tmp/stderr")" python3 -c '
import json, os
e = os.environ
try:
    rec = json.loads(e["LINE"])
    if not isinstance(rec, dict):
        raise ValueError
except ValueError:
    rec = {"workload": e["WORKLOAD"], "error": "exit %s without a JSON line: %s %s"
           % (e["RC"], e["LINE"][-200:], e["STDERR"])}
if e["RC"] != "0" and "error" not in rec:
    rec["error"] = "exit " + e["RC"]
rec["harness"] = e["LABEL"]
rec["rep"] = int(e["REP"])
print(json.dumps(rec, separators=(",", ":")))')"
      echo "$record" >>"$out"
      verdict="$(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print(r.get("error") and "ERROR " + r["error"] or r.get("unsupported") and "n/a" or
      "%s ops/s in %s s" % (r.get("ops_per_sec"), r.get("secs")))' "$record")"
      [[ "$verdict" == ERROR* ]] && failures=$((failures + 1))
      log "$w rep $rep ${labels[$i]}: $verdict"
    done
  done
done

# Leftovers would show here: znodes the runs did not delete, watches, open sessions.
stats="$(four_letter mntr || true)"
znodes_after="$(mntr_field "$stats" zk_znode_count)"
log "server after the runs: znodes $znodes_before before, $znodes_after after;" \
  "watches $(mntr_field "$stats" zk_watch_count); connections $(mntr_field "$stats" zk_num_alive_connections) (this check's own)"
[ "$znodes_before" = "$znodes_after" ] || { log "LEFTOVER znodes on the server"; failures=$((failures + 1)); }
stop_server
log "done; load average $(loadavg)"

echo "ZooKeeper $version on 127.0.0.1:$port; $reps repetition(s), medians; $(nproc) cores;" \
  "started $started, load average at the end $(loadavg); zk-curator at $commit${BENCH_ARGS:+; args: $BENCH_ARGS}"
echo
summary=0
python3 "$bench/summarize.py" "$out" || summary=$?
[ "$failures" -eq 0 ] && [ "$summary" -eq 0 ]

# Sourced by the bench scripts (ab.sh, counter-vs-curator.sh, queue-throughput.sh, smoke.sh,
# vs-server.sh): the servers they run against, and one harness run recorded as a JSON line.

# log MESSAGE...: a timestamped line on stderr.
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# start_testing_server BINARY PORT: starts it in the background (server_pid) and waits until
# it accepts connections. It serves until its stdin closes (--exit-on-stdin-close): a fifo this
# shell holds open on fd 9, so the server goes when the script does, however it ends.
start_testing_server() {
  local fifo
  fifo="$(mktemp -u)"
  mkfifo "$fifo"
  "$1" --port "$2" --exit-on-stdin-close <"$fifo" >/dev/null &
  server_pid=$!
  exec 9>"$fifo"
  rm -f "$fifo"
  trap 'kill "$server_pid" 2>/dev/null || true' EXIT
  wait_for_port "$2"
}

# start_zookeeper DIR PORT [PREFIX...]: Apache ZooKeeper 3.8 (Debian's jar) in the background
# (server_pid) on 127.0.0.1:PORT with the anchors' configuration (forceSync=no, no admin
# server, every four-letter word), its zoo.cfg, data and server.log in DIR, which the caller
# made and removes. PREFIX runs java (e.g. `taskset -c 1`). Does not wait: see wait_for_port.
start_zookeeper() {
  local dir=$1 port=$2
  shift 2
  cat >"$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
forceSync=no
maxClientCnxns=0
4lw.commands.whitelist=*
CFG
  "$@" java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar \
    org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >"$dir/server.log" 2>&1 &
  server_pid=$!
}

# wait_for_port PORT: until 127.0.0.1:PORT accepts a connection (at most 10 s).
wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# run_harness OUT LABEL REP WORKLOAD LIMIT COMMAND...: runs COMMAND (a harness and its
# arguments) for at most LIMIT seconds and appends its last output line to OUT as a JSON
# record with "harness": LABEL and "rep": REP added, or, when it printed no JSON object, an
# error record naming its exit status; then logs the result.
run_harness() {
  local out=$1 label=$2 rep=$3 workload=$4 limit=$5
  shift 5
  local line rc record
  set +e
  line="$(timeout "$limit" "$@" 2>/dev/null | tail -n 1)"
  rc=$?
  set -e
  record="$(LABEL="$label" REP="$rep" RC="$rc" WORKLOAD="$workload" LINE="$line" python3 -c '
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
  log "$workload rep $rep $label: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r.get("error") or r.get("unsupported") or r.get("ops_per_sec"))' "$record")"
}

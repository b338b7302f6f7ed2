# Sourced by vs-server.sh and smoke.sh: the in-process TestingServer for a script's lifetime.

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

# wait_for_port PORT: until 127.0.0.1:PORT accepts a connection (at most 10 s).
wait_for_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# Sourced by the load scripts: starts Counsel's programs (and the bare
# references) in the background, finds the ports they chose, and stops them
# and removes $WORK on exit.
#
#   WORK=$(mktemp -d); . tests/bench/programs.sh
#   start guidance "$WORK/g.log" build/release/guidance-svc/counsel-guidance --listen=127.0.0.1:0 …
#   G=$(port_of "$WORK/g.log" grpc)        # ${pid_of[guidance]} is its pid
pids=()
declare -A pid_of
cleanup() {
  for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port_of() {  # waits for a program's "listening" line for the transport
  local log=$1 transport=$2
  for _ in $(seq 1 200); do
    local p
    p=$(grep -o "\"transport\":\"$transport\",\"address\":\"[^\"]*\",\"port\":[0-9]*" "$log" 2>/dev/null |
        head -1 | grep -o '[0-9]*$' || true)
    if [ -n "$p" ]; then echo "$p"; return; fi
    sleep 0.05
  done
  echo "no port in $log" >&2
  exit 1
}
start() {  # name, log, command...
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  pid_of[$name]=$!
}

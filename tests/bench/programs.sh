# Sourced by the load scripts: starts Counsel's programs (and the bare
# references) in the background, finds the ports they chose, and stops them
# and removes $WORK on exit.
#
#   BUILD=build/release; WORK=$(mktemp -d); . tests/bench/programs.sh
#   start_guidance                            # keys in $WORK, guidance-svc on port $G
#   start cases "$WORK/c.log" "$BUILD/case-svc/counsel-cases" --listen=127.0.0.1:0 …
#   C=$(port_of "$WORK/c.log" grpc)           # ${pid_of[cases]} is its pid
#   round_order "$round" a b c                # order=(a b c), or (c b a) in even rounds
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
start_guidance() {  # keys in $WORK, the shipped content imported, guidance-svc started; sets G
  for k in context master audit; do (umask 077 && head -c 32 /dev/urandom >"$WORK/$k.key"); done
  "$BUILD/guidance-svc/counsel-guidance" import guidance-svc/content --db="$WORK/g.db" 2>/dev/null
  start guidance "$WORK/g.log" "$BUILD/guidance-svc/counsel-guidance" --listen=127.0.0.1:0 \
    --db="$WORK/g.db" --context_key_file="$WORK/context.key" --reflection=false
  G=$(port_of "$WORK/g.log" grpc)
}
start() {  # name, log, command...
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  pid_of[$name]=$!
}
round_order() {  # round, items...: sets `order` to the items, reversed every other round
  local round=$1
  shift
  order=("$@")
  if [ $((round % 2)) -eq 0 ]; then
    order=()
    local i
    for ((i = $#; i >= 1; i--)); do order+=("${!i}"); done
  fi
}

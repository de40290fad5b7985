# What s3.sh and slurm.sh share: sourced with NAME (for messages) and DIR (the server's folder) set.

# Waits up to $1 seconds for the command after it to succeed; on timeout shows the server's logs.
wait_for() {
  local t=$1
  shift
  for _ in $(seq $((t * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "$NAME: timed out after ${t}s waiting for: $*" >&2
  tail -n 20 "$DIR"/log/*.log >&2 2>/dev/null || true
  return 1
}

# Whether a process still runs (a zombie does not: nothing in a container may reap it).
alive() {
  [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# Stops every daemon whose pid file is under $DIR/run (SIGTERM, then SIGKILL after 5 s) and waits
# until each is gone, so a server started right after never meets the old one on its ports; then
# removes $DIR.
stop() {
  local pids=() p
  for p in "$DIR"/run/*.pid; do
    [ -e "$p" ] && pids+=("$(cat "$p")")
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for sig in KILL NONE; do
    for _ in $(seq 25); do
      local left=0
      for p in "${pids[@]}"; do alive "$p" && left=1; done
      [ $left = 0 ] && break 2
      sleep 0.2
    done
    [ $sig = KILL ] && for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  done
  rm -rf "$DIR"
}

# On a failed start: say which command failed, show the daemons' errors, and stop what did start.
on_start_error() {
  local rc=$? cmd=$BASH_COMMAND
  trap - ERR
  echo "$NAME: start failed (exit $rc) at: $cmd" >&2
  tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.err >&2 2>/dev/null || true
  stop
  exit $rc
}

# What every start() begins with: root (saying why), the commands it runs (saying how to install them),
# no server left from before on these ports and folders, and the error trap.
begin_start() {
  local why=$1 install=$2 b
  shift 2
  [ "$(id -u)" = 0 ] || { echo "$NAME: needs root ($why)" >&2; exit 1; }
  for b in "$@"; do
    command -v "$b" >/dev/null || { echo "$NAME: $b not found: $install" >&2; exit 1; }
  done
  stop
  trap on_start_error ERR
}

# The script's command line: start (then print the environment the tests read), stop, or env.
dispatch() {
  case "${1:-}" in
    start)
      start
      trap - ERR
      env_lines
      ;;
    stop) stop ;;
    env) env_lines ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
  esac
}

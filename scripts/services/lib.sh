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

# Stops every daemon whose pid file is under $DIR/run (SIGTERM, then SIGKILL) and removes $DIR.
stop() {
  for p in "$DIR"/run/*.pid; do
    [ -e "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
  done
  sleep 0.5
  for p in "$DIR"/run/*.pid; do
    [ -e "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null || true
  done
  rm -rf "$DIR"
}

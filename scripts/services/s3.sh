#!/usr/bin/env bash
# A real S3 server on this machine for pipe's remote-cache tests: Ceph RGW on a one-node Ceph cluster
# (mon + mgr + one OSD on memstore, in RAM). Needs root and Debian's packages:
#   apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-mgr ceph-common
# Usage: scripts/services/s3.sh start|stop|env   (PIPE_S3_MEMSTORE_BYTES: most RAM for objects, default 8 GiB,
#   taken only as objects arrive; a deleted object's RAM is freed by RGW's garbage collection within seconds)
#   start  starts it (bounded waits) and prints the environment the tests read
#   env    prints that environment for a running server
#   stop   stops it and removes its state
set -euo pipefail
DIR=${PIPE_S3_DIR:-/tmp/pipe-s3}
PORT=${PIPE_S3_PORT:-7480}
MON_PORT=${PIPE_S3_MON_PORT:-6799}
ACCESS=pipe-test-access
SECRET=pipe-test-secret-0123456789
# A read-only subuser of the same account: what a pull-only remote (CI reading a team cache) is given.
RO_ACCESS=pipe-test-readonly
RO_SECRET=pipe-test-readonly-secret-0123
CONF=$DIR/ceph.conf

env_lines() {
  echo "export PIPE_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT"
  echo "export AWS_ACCESS_KEY_ID=$ACCESS"
  echo "export AWS_SECRET_ACCESS_KEY=$SECRET"
  echo "export AWS_REGION=us-east-1"
  echo "export PIPE_TEST_S3_READONLY_ACCESS_KEY_ID=$RO_ACCESS"
  echo "export PIPE_TEST_S3_READONLY_SECRET_ACCESS_KEY=$RO_SECRET"
}

NAME=s3.sh
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"

start() {
  begin_start 'Ceph daemons and their folders' 'apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-mgr ceph-common' \
    ceph-mon ceph-osd ceph-mgr radosgw radosgw-admin monmaptool
  mkdir -p "$DIR"/{mon,osd0,mgr,run,log}
  local fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CONF" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = ${PIPE_S3_MEMSTORE_BYTES:-8589934592}
osd data = $DIR/osd0
mon data = $DIR/mon
mgr data = $DIR/mgr
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
keyring = $DIR/keyring
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
# Deleted objects free their RAM within seconds, not after RGW's default two hours: the benchmark deletes as it goes.
rgw gc obj min wait = 0
rgw gc processor period = 5
CONF
  : > "$DIR/keyring"
  monmaptool --create --add a "v1:127.0.0.1:$MON_PORT" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" -i a 2>>"$DIR/log/daemons.err"
  wait_for 20 ceph -c "$CONF" mon stat
  # One uuid for the OSD in the mon's map and on the OSD itself (Ceph's manual deployment): without it the
  # OSD's own random uuid sometimes meets the map's at boot and fails with "wrong fsid".
  local osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  # Right after `mon stat` answers, the mon may still refuse commands while its services initialise ("EPERM:
  # problem getting command descriptions from mon"): `osd create` with a uuid is idempotent, so it is retried.
  wait_for 20 ceph -c "$CONF" osd create "$osd_uuid"
  # The OSD asks the mon to check the cluster's fsid at boot; until the mon's osdmap carries it, that fails.
  wait_for 20 sh -c "ceph -c '$CONF' osd dump | grep -q '^fsid $fsid'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" --no-mon-config >/dev/null 2>&1
  # Even then the OSD's first commands can race the mon ("wrong fsid", exit 250; seen three starts in a row
  # on a loaded machine): it is started again, at most ten times, a second apart.
  local try
  for try in $(seq 10); do
    ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/daemons.err" && break
    [ "$try" = 10 ] && false
    sleep 1
  done
  ceph-mgr -c "$CONF" -i x 2>>"$DIR/log/daemons.err"
  wait_for 30 sh -c "ceph -c '$CONF' osd stat | grep -q '1 up'"
  radosgw -c "$CONF" -n client.rgw 2>>"$DIR/log/daemons.err"
  wait_for 60 radosgw-admin -c "$CONF" user list
  radosgw-admin -c "$CONF" user create --uid pipe-test --display-name "pipe tests" --access-key "$ACCESS" --secret "$SECRET" >/dev/null
  radosgw-admin -c "$CONF" subuser create --uid pipe-test --subuser pipe-test:ro --access read --key-type s3 --access-key "$RO_ACCESS" --secret-key "$RO_SECRET" >/dev/null
  wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT"
}

dispatch "$@"

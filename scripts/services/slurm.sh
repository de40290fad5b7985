#!/usr/bin/env bash
# A two-node SLURM cluster on this machine for pipe's executor tests: munge + slurmctld + two slurmd
# ("n1", and "n2" with a pretend GPU), on private ports and a private munge socket. Needs root and
#   apt-get install -y slurm-wlm munge
# Usage: scripts/services/slurm.sh start|stop|env
#   start  starts it (bounded waits) and prints the environment the tests read (SLURM_CONF)
#   stop   stops it and removes its state
set -euo pipefail
DIR=${PIPE_SLURM_DIR:-/tmp/pipe-slurm}
PORT=${PIPE_SLURM_PORT:-6917}
CONF=$DIR/slurm.conf

env_lines() {
  echo "export SLURM_CONF=$CONF"
  echo "export PIPE_TEST_SLURM=$DIR"
}

NAME=slurm.sh
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/lib.sh"

start() {
  begin_start 'slurmd runs jobs as their users' 'apt-get install -y slurm-wlm munge' munged slurmctld slurmd sbatch
  mkdir -p "$DIR"/{run,log,state,spool,munge}
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 700 "$DIR/munge" && chmod 400 "$DIR/munge/munge.key"
  munged --force --socket="$DIR/munge/munge.sock" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/seed"
  local cpus
  cpus=$(nproc)
  cat > "$CONF" <<CONF
ClusterName=pipe-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
# A requeued job waits cred_expire seconds before it can start again (default 120).
AuthInfo=socket=$DIR/munge/munge.sock,cred_expire=10
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MinJobAge=600
KillWait=5
GresTypes=gpu
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((PORT + 2)) CPUs=$cpus RealMemory=2000 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((PORT + 3)) CPUs=$cpus RealMemory=2000 Gres=gpu:fake:1 State=UNKNOWN
PartitionName=main Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
  cat > "$DIR/gres.conf" <<CONF
NodeName=n2 Name=gpu Type=fake File=/dev/null
CONF
  mkdir -p "$DIR/spool/n1" "$DIR/spool/n2"
  export SLURM_CONF=$CONF
  slurmctld -f "$CONF"
  slurmd -f "$CONF" -N n1
  slurmd -f "$CONF" -N n2
  wait_for 30 sh -c "sinfo -h -o '%t %D' | grep -Eq '^idle 2$'"
}

dispatch "$@"

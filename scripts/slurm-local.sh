#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for CI and for trying `ganpool sweep --executor slurm`.
#
#   scripts/slurm-local.sh start   writes $DIR/slurm.conf for this host (hostname -s) and its core count,
#                                  starts munged (a private key and socket), slurmctld and slurmd, waits
#                                  until the node takes jobs, and prints `export SLURM_CONF=…`
#   scripts/slurm-local.sh stop    stops the three daemons it started, by the pids in $DIR/*.pid
#   scripts/slurm-local.sh env     prints `export SLURM_CONF=…`
#
# DIR is $GANPOOL_SLURM_DIR, default /tmp/ganpool-slurm. Needs root and Debian's slurm-wlm and munge
# (apt-get install slurm-wlm munge). Nothing outside DIR is written; the system's own munge and Slurm
# configuration are not used or touched.
set -euo pipefail
DIR="${GANPOOL_SLURM_DIR:-/tmp/ganpool-slurm}"
CONF="$DIR/slurm.conf"
HOST="$(hostname -s)"
CPUS="$(nproc)"
PORT_BASE="${GANPOOL_SLURM_PORT:-16817}"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  for bin in munged mungekey slurmctld slurmd sinfo; do
    command -v "$bin" >/dev/null 2>&1 || { echo "slurm-local: $bin not found (apt-get install slurm-wlm munge)" >&2; exit 1; }
  done
  if pid_alive "$DIR/slurmctld.pid" && pid_alive "$DIR/slurmd.pid"; then
    echo "slurm-local: already running in $DIR" >&2
    echo "export SLURM_CONF=$CONF"
    return
  fi
  mkdir -p "$DIR/munge" "$DIR/state" "$DIR/spool"
  chmod 700 "$DIR/munge"
  [ -f "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null 2>&1 \
    || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 600 "$DIR/munge/munge.key"
  cat >"$CONF" <<CONF
# Written by scripts/slurm-local.sh: a one-node cluster on $HOST with $CPUS CPUs.
ClusterName=ganpool-local
SlurmctldHost=$HOST
SlurmctldPort=$PORT_BASE
SlurmdPort=$((PORT_BASE + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=60
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
  munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munge/munge.seed"
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  export SLURM_CONF="$CONF"
  for _ in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
      echo "slurm-local: one node ($HOST, $CPUS CPUs) up; pids in $DIR/*.pid" >&2
      echo "export SLURM_CONF=$CONF"
      return
    fi
    sleep 0.5
  done
  echo "slurm-local: the node did not come up; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
  stop
  exit 1
}

stop() {
  for d in slurmd slurmctld munged; do
    f="$DIR/$d.pid"
    if pid_alive "$f"; then
      pid="$(cat "$f")"
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$f"
  done
  echo "slurm-local: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac

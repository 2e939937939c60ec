#!/usr/bin/env bash
# Start a real one-node Slurm cluster with accounting on this machine, for tests and demos.
#
# Installs Debian's packages (munge, slurmctld, slurmd, slurm-client, slurmdbd, MariaDB) with
# apt-get if they are missing, then starts every daemon by hand, without systemd:
#   munged -> mariadbd -> slurmdbd -> slurmctld -> slurmd
# Accounting (slurmdbd + MariaDB) is what real clusters run, and what makes `sacct` work;
# snakemake-executor-plugin-slurm polls job states with `sacct` whenever the binary exists,
# so a cluster without it leaves Snakemake waiting forever (see docs/slurm.md).
#
# The node offers $(nproc) CPUs, 90 % of the memory and two *stand-in* GPUs (gres gpu:2 on
# /dev/null and /dev/zero): a job asking for `--gpus=1` is scheduled as on a GPU cluster, and torch
# inside it still finds no CUDA and runs on the CPU. This lets the profile's GPU request be
# tested as typed.
#
# Idempotent: when the cluster is already up with this configuration it only checks, in a
# second or so. Each daemon it starts gets a pid file under $DRUMSCRIBE_SLURM_RUN
# (/run/drumscribe-slurm), so tests/slurm/stop-local-slurm.sh stops exactly those.
# It also installs snakemake-executor-plugin-slurm into .venv when it is missing.
#
# Needs root and a Debian-like system (apt-get). Usage: bash tests/slurm/start-local-slurm.sh
set -euo pipefail

START=$(date +%s.%N)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${DRUMSCRIBE_SLURM_RUN:-/run/drumscribe-slurm}
CLUSTER=drumscribe
ACCOUNT=drumscribe
HOST=$(hostname -s)
LOGDIR=/var/log/slurm
DB_PASS=drumscribe-local-only

say() { echo "local-slurm: $*"; }
die() { echo "local-slurm: ERROR: $*" >&2; exit 1; }
elapsed() { awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}'; }

[ "$(id -u)" -eq 0 ] || die "needs root (it installs packages and starts daemons)"
command -v apt-get >/dev/null || die "needs apt-get (Debian/Ubuntu)"

alive() {  # alive NAME: the daemon we started (pid file in $RUN) is running
  local f="$RUN/$1.pid"
  [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local t=$1 what=$2; shift 2
  local i
  for ((i = 0; i < t * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${t}s waiting for $what"
}

# ---------------------------------------------------------------- packages
PKGS="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "installing:$missing"
  # never let package scripts start services: we start (and stop) them ourselves
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
  if [ "$made_policy" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  say "packages installed ($(elapsed) s)"
fi
mkdir -p "$RUN" "$LOGDIR"
chown slurm:slurm "$LOGDIR"

# ---------------------------------------------------------------- configuration
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
conf=$(mktemp)
cat >"$conf" <<EOF
# Written by drumscribe's tests/slurm/start-local-slurm.sh: a one-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
changed=0
if ! cmp -s "$conf" /etc/slurm/slurm.conf 2>/dev/null; then
  mkdir -p /etc/slurm
  install -m 644 "$conf" /etc/slurm/slurm.conf
  changed=1
fi
rm -f "$conf"
# two stand-in GPUs: Slurm's gpu plugin counts device files, so /dev/null and /dev/zero play
# them (scheduling only: torch finds no CUDA and runs on the CPU)
gres="NodeName=$HOST Name=gpu File=/dev/null
NodeName=$HOST Name=gpu File=/dev/zero"
if [ "$(cat /etc/slurm/gres.conf 2>/dev/null)" != "$gres" ]; then
  echo "$gres" >/etc/slurm/gres.conf
  changed=1
fi
dbdconf=$(mktemp)
cat >"$dbdconf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=$RUN/slurmdbd.pid
LogFile=$LOGDIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
if ! cmp -s "$dbdconf" /etc/slurm/slurmdbd.conf 2>/dev/null; then
  install -m 600 -o slurm -g slurm "$dbdconf" /etc/slurm/slurmdbd.conf
  changed=1
fi
rm -f "$dbdconf"
mkdir -p /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
chown slurm:slurm /var/lib/slurm/slurmctld

# ---------------------------------------------------------------- already up?
if [ "$changed" -eq 0 ] && alive munged && alive mariadbd && alive slurmdbd && alive slurmctld && alive slurmd \
  && sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)' && sacct -n -X -S now >/dev/null 2>&1; then
  say "already up (cluster $CLUSTER, node $HOST, ${CPUS} CPUs); checked in $(elapsed) s"
  exit 0
fi
if [ "$changed" -eq 1 ]; then
  # Slurm daemons only read their configuration at start: restart those we run
  for d in slurmd slurmctld slurmdbd; do
    if alive "$d"; then kill "$(cat "$RUN/$d.pid")"; fi
  done
  for d in slurmd slurmctld slurmdbd; do
    for _ in $(seq 50); do alive "$d" || break; sleep 0.2; done
  done
fi

# ---------------------------------------------------------------- munge
if ! alive munged; then
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid --force
  wait_for 10 "munged" test -s /run/munge/munged.pid
  cp /run/munge/munged.pid "$RUN/munged.pid"
fi
wait_for 10 "munge credentials" sh -c 'munge -n | unmunge'

# ---------------------------------------------------------------- MariaDB (accounting storage)
if ! alive mariadbd; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  setsid nohup /usr/sbin/mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid \
    --skip-networking=0 --bind-address=127.0.0.1 >/var/log/slurm/mariadbd.log 2>&1 </dev/null &
  wait_for 30 "MariaDB" mariadb-admin ping
  cp /run/mysqld/mysqld.pid "$RUN/mariadbd.pid"
fi
mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

# ---------------------------------------------------------------- slurmdbd
if ! alive slurmdbd; then
  /usr/sbin/slurmdbd
  wait_for 30 "slurmdbd" sacctmgr -n show cluster
fi
# the cluster, an account and this user's association, as a real site has them
sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER" \
  || sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null
sacctmgr -n -P show account format=account | grep -qx "$ACCOUNT" \
  || sacctmgr -i -Q add account "$ACCOUNT" cluster="$CLUSTER" description="drumscribe tests" organization=drumscribe >/dev/null
sacctmgr -n -P show assoc where user=root account="$ACCOUNT" format=user | grep -qx root \
  || sacctmgr -i -Q add user root account="$ACCOUNT" defaultaccount="$ACCOUNT" cluster="$CLUSTER" >/dev/null

# ---------------------------------------------------------------- slurmctld, slurmd
if ! alive slurmctld; then
  # slurmctld refuses state saved by a cluster of another name
  if [ -f /var/lib/slurm/slurmctld/clustername ] \
    && [ "$(cat /var/lib/slurm/slurmctld/clustername)" != "$CLUSTER" ]; then
    rm -rf /var/lib/slurm/slurmctld/*
  fi
  /usr/sbin/slurmctld
  wait_for 30 "slurmctld" scontrol ping
fi
if ! alive slurmd; then
  /usr/sbin/slurmd
  wait_for 30 "slurmd" test -s "$RUN/slurmd.pid"
fi
node_ready() { sinfo -h -n "$HOST" -o %T | grep -Eq '^(idle|mixed|allocated)$'; }
for _ in $(seq 100); do
  node_ready && break
  if sinfo -h -n "$HOST" -o %T | grep -Eq 'drain|down|inval'; then
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
  fi
  sleep 0.2
done
node_ready || die "node $HOST is not ready: $(sinfo -h -N -o '%N %T %E')"
wait_for 20 "sacct" sacct -n -X -S now

# ---------------------------------------------------------------- the Snakemake plugin
if [ -x "$REPO/.venv/bin/python" ] && ! "$REPO/.venv/bin/python" -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
  say "installing snakemake-executor-plugin-slurm into .venv"
  "$REPO/.venv/bin/pip" install -q "snakemake-executor-plugin-slurm==2.8.0"
fi

say "up (cluster $CLUSTER, node $HOST, ${CPUS} CPUs, ${MEM_MB} MB, gres gpu:2, account $ACCOUNT) in $(elapsed) s"

#!/usr/bin/env bash
# Stop the daemons that tests/slurm/start-local-slurm.sh started (and only those: it reads
# the pid files that script keeps under $DRUMSCRIBE_SLURM_RUN, /run/drumscribe-slurm).
# Packages, configuration and the accounting database stay; start-local-slurm.sh brings the
# cluster back in a few seconds. Usage: bash tests/slurm/stop-local-slurm.sh
set -uo pipefail
RUN=${DRUMSCRIBE_SLURM_RUN:-/run/drumscribe-slurm}

stop() {  # stop NAME: TERM the pid in $RUN/NAME.pid, wait up to 20 s, then KILL
  local f="$RUN/$1.pid" pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    echo "local-slurm: stopped $1 (pid $pid)"
  fi
  rm -f "$f"
}
# reverse order of start
for d in slurmd slurmctld slurmdbd mariadbd munged; do stop "$d"; done

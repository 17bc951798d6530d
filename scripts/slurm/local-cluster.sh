#!/usr/bin/env bash
# A real single-node Slurm for the tests (Debian's munge, slurmctld, slurmd),
# configured under a temporary folder and touching no system configuration.
#   eval "$(scripts/slurm/local-cluster.sh start)"   # exports SLURM_CONF
#   scripts/slurm/local-cluster.sh status
#   scripts/slurm/local-cluster.sh stop               # daemons stopped by their PIDs
# Needs root (the daemons run as root here). HEIMDALL_SLURM_STATE names the
# file that remembers the folder (default /tmp/heimdall-slurm.state).
set -euo pipefail
STATE=${HEIMDALL_SLURM_STATE:-/tmp/heimdall-slurm.state}
say() { echo "local-cluster: $*" >&2; }

stop() {
    [ -s "$STATE" ] || { say "not running"; return 0; }
    D=$(cat "$STATE")
    for p in slurmd slurmctld munged; do
        f="$D/$p.pid"
        [ -s "$f" ] || continue
        pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$D" "$STATE"
    say "stopped"
}

start() {
    [ "$(id -u)" -eq 0 ] || { say "needs root"; exit 3; }
    for c in munged slurmctld slurmd sinfo sbatch; do
        command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || { say "$c is not installed"; exit 3; }
    done
    [ ! -s "$STATE" ] || stop
    D=$(mktemp -d /tmp/heimdall-slurm.XXXXXX)
    echo "$D" > "$STATE"
    mkdir -p "$D/munge" "$D/spool" "$D/state" "$D/log"
    chmod 700 "$D/munge"
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$D/munge/munge.key"
    /usr/sbin/munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
        --pid-file="$D/munged.pid" --log-file="$D/log/munged.log" --seed-file="$D/munge/seed"
    host=$(hostname -s)
    mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
    port=$((20000 + RANDOM % 20000))
    cat > "$D/slurm.conf" <<CONF
ClusterName=heimdall
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=5
NodeName=$host CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    export SLURM_CONF="$D/slurm.conf"
    /usr/sbin/slurmctld -c
    /usr/sbin/slurmd -c
    for _ in $(seq 60); do
        if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            echo "export SLURM_CONF=$D/slurm.conf"
            say "up: $host, $(nproc) CPUs, config $D/slurm.conf"
            return 0
        fi
        sleep 0.5
    done
    say "the node did not come up; logs in $D/log:"
    tail -5 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2 || true
    stop
    exit 1
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) [ -s "$STATE" ] && SLURM_CONF="$(cat "$STATE")/slurm.conf" sinfo || say "not running" ;;
*) echo "usage: local-cluster.sh start|stop|status" >&2; exit 2 ;;
esac

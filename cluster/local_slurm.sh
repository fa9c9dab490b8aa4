#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing the workflow's SLURM profile for real.
#   cluster/local_slurm.sh start   install (Debian, as root), configure and start munge + SLURM
#   cluster/local_slurm.sh stop    stop the daemons this script started (by their pid files)
# Debian 12's slurm-wlm 22.05 runs here without systemd; see ../shared/notes/slurm.md.
set -euo pipefail

STATE=/var/lib/lstmptq-slurm          # pid files, state and logs of this test cluster
CONF=/etc/slurm/slurm.conf
WAIT_S=${SLURM_START_TIMEOUT:-60}

die() { echo "local_slurm.sh: $*" >&2; exit 1; }

install_packages() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null && return
    command -v apt-get >/dev/null || die "needs Debian's apt-get to install slurmctld, slurmd, slurm-client and munge"
    timeout 600 apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
}

write_config() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(free -m | awk '/^Mem:/ {print $2}') - 1024 ))
    mkdir -p /etc/slurm "$STATE"/{ctld,d,log}
    cat > "$CONF" <<CONF
# written by lstmptq's cluster/local_slurm.sh: a one-node test cluster
ClusterName=lstmptq
SlurmctldHost=$host
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
MinJobAge=300
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
    [ -s /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 || die "cannot create /etc/munge/munge.key"
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    mkdir -p /run/munge "$STATE/munge" && chown munge:munge /run/munge "$STATE/munge"
    if ! munge -n >/dev/null 2>&1; then  # not running yet: start our own (and stop it later)
        runuser -u munge -- munged --pid-file="$STATE/munge/munged.pid" || die "munged did not start"
        touch "$STATE/started-munge"
    fi
    timeout 20 sh -c 'until munge -n >/dev/null 2>&1; do sleep 0.2; done' || die "munge does not answer"
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"
    install_packages
    stop_daemons >/dev/null  # daemons left by an earlier run of this script
    write_config
    start_munge
    slurmctld -f "$CONF"
    slurmd -f "$CONF"
    timeout "$WAIT_S" sh -c 'until sinfo -h -o %t 2>/dev/null | grep -qx idle; do sleep 0.5; done' \
        || { tail -20 "$STATE"/log/*.log >&2; die "the node did not become idle within ${WAIT_S}s"; }
    echo "SLURM up: $(sinfo -h -o '%P %D %t %c CPUs %m MB')"
}

alive() {  # pid $1 runs (a zombie left for a parent that does not reap counts as gone)
    [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

stop_daemons() {
    local daemon pid i
    for daemon in slurmd slurmctld; do
        [ -s "$STATE/$daemon.pid" ] || continue
        pid=$(cat "$STATE/$daemon.pid")
        kill "$pid" 2>/dev/null || true
        for i in $(seq 100); do alive "$pid" || break; sleep 0.2; done  # at most 20 s
        rm -f "$STATE/$daemon.pid"
    done
}

stop() {
    stop_daemons
    if [ -e "$STATE/started-munge" ]; then
        [ -s "$STATE/munge/munged.pid" ] && kill "$(cat "$STATE/munge/munged.pid")" 2>/dev/null || true
        rm -f "$STATE/started-munge"
    fi
    echo "SLURM stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    log) cat "$STATE/log/slurmctld.log" ;;
    *) die "usage: $0 start|stop|log" ;;
esac

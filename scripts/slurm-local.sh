#!/usr/bin/env bash
# A throw-away SLURM cluster on this machine, for the tests: one controller and several
# simulated compute nodes (one `slurmd` per node, each on its own port), munge for
# authentication, no systemd (the daemons are started directly).
#
#   eval "$(scripts/slurm-local.sh start)"   # starts it (or reuses a running one), prints
#                                            # export SLURM_CONF=...
#   scripts/slurm-local.sh env               # the export of the running cluster
#   scripts/slurm-local.sh status            # the nodes and their states (sinfo)
#   scripts/slurm-local.sh stop              # stops every daemon and removes the state
#
# DAISY_SLURM_DIR (default /tmp/daisy-slurm) holds the configuration, logs, spool and state;
# DAISY_SLURM_NODES (default 3) is the number of simulated nodes. Debian's slurmctld, slurmd,
# slurm-client and munge packages are installed if missing. Must run as root (slurmd starts
# jobs as their user).
set -euo pipefail

dir=${DAISY_SLURM_DIR:-/tmp/daisy-slurm}
nodes=${DAISY_SLURM_NODES:-3}
conf=$dir/slurm.conf
packages=(slurmctld slurmd slurm-client munge)

log() { echo "slurm-local: $*" >&2; }

install_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}" >&2
    fi
}

print_env() {
    echo "export SLURM_CONF=$conf"
}

# Whether a daemon whose pid file is $1 runs (PID 1 does not reap here, so a dead daemon can
# linger as a zombie: its state is checked, not only its existence).
alive() {
    [[ -f $1 ]] || return 1
    local pid state
    pid=$(<"$1")
    state=$(ps -o stat= -p "$pid" 2>/dev/null || true)
    [[ -n $state && $state != Z* ]]
}

running() {
    [[ -f $conf ]] || return 1
    alive "$dir/slurmctld.pid" || return 1
    for i in $(seq 1 "$nodes"); do
        alive "$dir/slurmd-node$i.pid" || return 1
    done
}

start_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged --force >&2
        touch "$dir/munged.ours"
        for _ in $(seq 50); do
            munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
            sleep 0.1
        done
        log "munged did not start"
        exit 1
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_conf() {
    local cpus mem ctld_port
    cpus=$(nproc)
    mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / nodes))
    ctld_port=$(free_port)
    mkdir -p "$dir/state" "$dir/spool"
    cat >"$conf" <<EOF
# Written by scripts/slurm-local.sh: a test cluster on one machine.
ClusterName=daisy
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdTimeout=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
EOF
    local port
    for i in $(seq 1 "$nodes"); do
        port=$(free_port)
        echo "NodeName=node$i NodeHostname=$(hostname) NodeAddr=127.0.0.1 Port=$port" \
            "CPUs=$cpus RealMemory=$mem State=UNKNOWN" >>"$conf"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" \
        "OverSubscribe=FORCE:4" >>"$conf"
}

stop_all() {
    local pidfile pid
    # Jobs first: a job's slurmstepd outlives its slurmd.
    if alive "$dir/slurmctld.pid"; then
        SLURM_CONF=$conf scancel --user=root 2>/dev/null || true
        for _ in $(seq 100); do
            [[ -z $(SLURM_CONF=$conf squeue -h 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
    for pidfile in "$dir"/slurmd-*.pid "$dir"/slurmctld.pid; do
        [[ -f $pidfile ]] || continue
        pid=$(<"$pidfile")
        kill "$pid" 2>/dev/null || true
    done
    # The daemons get a few seconds, then SIGKILL (zombies are dead: PID 1 does not reap).
    for _ in $(seq 50); do
        pgrep -r RSD -f "slurmd -f $conf|slurmctld -f $conf" >/dev/null || break
        sleep 0.1
    done
    pkill -9 -f "slurmd -f $conf|slurmctld -f $conf" 2>/dev/null || true
    # munged is the machine's: stopped only if this script started it and no other
    # cluster (another state directory) still runs.
    if [[ -f $dir/munged.ours ]] && ! pgrep -r RSD -f "slurmctld -f|slurmd -f" >/dev/null; then
        pkill -x munged 2>/dev/null || true
    fi
}

cmd=${1:-start}
case $cmd in
start)
    if [[ $(id -u) -ne 0 ]]; then
        log "must run as root"
        exit 1
    fi
    if running; then
        print_env
        exit 0
    fi
    install_packages
    stop_all
    rm -rf "$dir"
    mkdir -p "$dir"
    start_munge
    write_conf
    export SLURM_CONF=$conf
    slurmctld -f "$conf" -i >&2
    for i in $(seq 1 "$nodes"); do
        slurmd -f "$conf" -N "node$i" >&2
    done
    # Ready when every node is idle.
    for _ in $(seq 600); do
        if [[ $(sinfo -h -N -o '%T' 2>/dev/null | grep -c '^idle$') -eq $nodes ]]; then
            print_env
            exit 0
        fi
        sleep 0.1
    done
    log "the cluster did not come up within 60 s; sinfo says:"
    sinfo -N >&2 || true
    tail -n 20 "$dir"/*.log >&2 || true
    exit 1
    ;;
env)
    running || {
        log "no cluster is running"
        exit 1
    }
    print_env
    ;;
status)
    SLURM_CONF=$conf sinfo -N
    ;;
stop)
    stop_all
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|env|status|stop" >&2
    exit 2
    ;;
esac

# A throwaway single-node Slurm cluster for tests, to be sourced (bash). It runs as root and keeps
# everything (munge key and socket, slurm.conf, state, spool, logs, pid files) under one folder, so it
# needs no system configuration and never touches /etc/slurm or a system munged.
#
#   source tests/support/slurm_local.sh
#   slurm_local_available || skip           # prints why not
#   slurm_local_start "$tmp/slurm"           # exports SLURM_CONF; waits until the node is idle
#   ids=$(sbatch --parsable ...)
#   slurm_local_wait_jobs [-t SECONDS] ID... # 0 only if every job (and array task) COMPLETED
#   slurm_local_stop "$tmp/slurm"            # no daemons left running
#
# Knobs: SLURM_LOCAL_PORT_BASE (first port tried; default random in 6917-7915), SLURM_LOCAL_DEBUG
# (daemon log level; default info), SLURM_LOCAL_TIMEOUT (default job wait in seconds; default 600).
# DIR must be short (it holds a unix socket) and free of spaces, which slurm.conf cannot hold.
# The library never exits the caller's shell and does not change its shell options.

_slurm_local_say() { echo "slurm_local: $*" >&2; }

# Commands the cluster needs. There is no accounting database, so sacct cannot work here; job outcomes
# come from scontrol instead (see slurm_local_wait_jobs).
slurm_local_available() {
  local cmd
  for cmd in munged munge slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
    if ! command -v "$cmd" >/dev/null 2>&1; then
      _slurm_local_say "unavailable: '$cmd' not found (Debian: apt-get install slurm-wlm munge)"
      return 1
    fi
  done
  if [ "$(id -u)" -ne 0 ]; then
    _slurm_local_say "unavailable: needs root (slurmd must start jobs as the submitting user)"
    return 1
  fi
  return 0
}

# A port nobody listens on, from $1 upward (skipping $2). A race with another program is possible but
# unlikely; starting then fails with the log tail rather than hanging.
_slurm_local_free_port() {
  local port=$1 skip=${2:-0}
  for ((; port < $1 + 200; port++)); do
    ((port == skip)) && continue
    if command -v ss >/dev/null 2>&1; then
      [ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && { echo "$port"; return 0; }
    elif ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"; return 0
    fi
  done
  return 1
}

_slurm_local_pid_alive() {  # pid file names a running process
  local pid
  [ -s "$1" ] && pid=$(<"$1") && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

_slurm_local_logs() {  # the tail of every log, for a failed start
  local f
  for f in "$1"/log/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 20 lines)" >&2
    tail -n 20 "$f" >&2
  done
}

_slurm_local_descendants() {  # all descendants of the given pids, from the parent pids in /proc
  local stat rest children=() p
  declare -A kids=()
  for p in /proc/[0-9]*; do
    { stat=$(<"$p/stat"); } 2>/dev/null || continue
    rest=${stat##*) }  # after "pid (comm) ": "state ppid ..."; comm may hold spaces
    rest=${rest#* }
    kids[${rest%% *}]+=" ${p#/proc/}"
  done
  local queue=("$@")
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for rest in ${kids[$p]:-}; do
      children+=("$rest")
      queue+=("$rest")
    done
  done
  echo "${children[@]}"
}

slurm_local_start() {
  if [ $# -ne 1 ]; then _slurm_local_say "usage: slurm_local_start DIR"; return 2; fi
  slurm_local_available || return 1
  local dir
  mkdir -p "$1" && dir=$(cd "$1" && pwd -P) || return 1
  if [[ $dir =~ [[:space:]\"#] ]]; then  # slurm.conf values cannot hold these
    _slurm_local_say "DIR must not contain spaces, quotes or '#': $dir"
    return 1
  fi
  # Same folder as a previous cluster: end its daemons first, so pid files and ports are ours.
  slurm_local_stop "$dir" 2>/dev/null
  mkdir -p "$dir"/{log,run,state,spool} || return 1
  # munged warns when others cannot reach its socket (harmless here: the jobs run as root).
  chmod 711 "$dir"

  local sock=$dir/run/munge.sock
  if ((${#sock} > 100)); then  # unix socket paths are limited to 108 bytes
    _slurm_local_say "DIR path too long for a unix socket: $sock"
    return 1
  fi

  # munge: a private key and daemon, so nothing depends on (or disturbs) a system munged. munged runs as
  # root here, which needs --force; the key must be readable by that user only.
  dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none || return 1
  chmod 400 "$dir/munge.key"
  # SLURM_CONF marks every daemon of this cluster (slurm_local_stop finds them by it).
  if ! SLURM_CONF=$dir/slurm.conf munged --force --socket="$sock" --key-file="$dir/munge.key" \
      --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/run/munged.seed" \
      2>>"$dir/log/munged.log"; then
    _slurm_local_say "munged failed to start"; _slurm_local_logs "$dir"; return 1
  fi
  if ! munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then
    _slurm_local_say "munge round trip failed"; _slurm_local_logs "$dir"; slurm_local_stop "$dir"; return 1
  fi

  local node ctld_port slurmd_port cpus mem_mb
  node=$(hostname -s)
  # A random start keeps clusters started at the same moment (parallel tests) off each other's ports.
  local base=${SLURM_LOCAL_PORT_BASE:-$((6917 + 2 * (RANDOM % 500)))}
  if ! ctld_port=$(_slurm_local_free_port "$base") ||
    ! slurmd_port=$(_slurm_local_free_port "$((ctld_port + 1))" "$ctld_port"); then
    _slurm_local_say "no free port from $base"; slurm_local_stop "$dir"; return 1
  fi
  cpus=$(nproc)
  mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 9 / 10240))  # 90% of RAM, MB

  # Everything lives under $dir. Notes on the less obvious settings:
  # - NodeAddr/SlurmctldHost 127.0.0.1: no dependence on how the host name resolves.
  # - proctrack/linuxproc, task/none, jobacct_gather/none: no cgroups in a container.
  # - cons_tres + CR_CPU: several 1-CPU tasks share the node; memory is not a consumable.
  # - SlurmdParameters=config_overrides: trust CPUs/RealMemory here even if slurmd detects otherwise.
  # - MinJobAge: finished jobs stay known to scontrol for a day (there is no accounting for sacct).
  #   0 ("never purge" in the manual) is rejected by 22.05 and silently becomes 2 seconds.
  # - kill_invalid_depend: a job whose afterok dependency failed is cancelled instead of pending forever.
  # - sched/builtin: event-driven FIFO; jobs start as soon as CPUs or dependencies free up.
  cat >"$dir/slurm.conf" <<EOF
ClusterName=merlocal
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=${SLURM_LOCAL_DEBUG:-info}
SlurmdDebug=${SLURM_LOCAL_DEBUG:-info}
PlugStackConfig=$dir/plugstack.conf
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
MinJobAge=86400
DependencyParameters=kill_invalid_depend
ReturnToService=2
SlurmdParameters=config_overrides
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$dir/plugstack.conf"  # no site SPANK plugins from /etc/slurm
  export SLURM_CONF=$dir/slurm.conf

  # Both daemons fork into the background and write their pid files; -c: no state from a previous run.
  if ! slurmctld -c -f "$SLURM_CONF" 2>>"$dir/log/slurmctld.log"; then
    _slurm_local_say "slurmctld failed to start"; _slurm_local_logs "$dir"; slurm_local_stop "$dir"; return 1
  fi
  if ! slurmd -N "$node" -f "$SLURM_CONF" 2>>"$dir/log/slurmd.log"; then
    _slurm_local_say "slurmd failed to start"; _slurm_local_logs "$dir"; slurm_local_stop "$dir"; return 1
  fi

  # Ready when the controller answers and the node has registered as idle ('idle*' = not responding).
  local deadline=$((SECONDS + 60)) state=""
  while ((SECONDS < deadline)); do
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null)
    [ "$state" = idle ] && return 0
    # The daemons write their pid files a moment after forking; give up early only once one has died.
    if [ -s "$dir/run/slurmctld.pid" ] && ! _slurm_local_pid_alive "$dir/run/slurmctld.pid"; then break; fi
    if [ -s "$dir/run/slurmd.pid" ] && ! _slurm_local_pid_alive "$dir/run/slurmd.pid"; then break; fi
    sleep 0.5
  done
  _slurm_local_say "node $node not idle after start (state '${state:-no answer}')"
  _slurm_local_logs "$dir"
  slurm_local_stop "$dir"
  return 1
}

# Waits until every given job (an array job id covers all its tasks) has ended, then prints one line per
# job or task: "<id> <state> <exit code>". Returns 0 only if all COMPLETED; 1 if any failed, was
# cancelled (e.g. an afterok dependency that failed) or the wait timed out; 2 on bad usage.
# Outcomes come from `scontrol show job` (MinJobAge keeps finished jobs known for a day): unlike marker
# files written by the jobs, it also sees jobs that never started or were cancelled.
slurm_local_wait_jobs() {
  local timeout=${SLURM_LOCAL_TIMEOUT:-600}
  if [ "${1:-}" = -t ]; then timeout=${2:-}; shift 2 || true; fi
  if [ $# -eq 0 ] || ! [[ $timeout =~ ^[0-9]+$ ]]; then
    _slurm_local_say "usage: slurm_local_wait_jobs [-t TIMEOUT_S] JOBID..."; return 2
  fi
  local deadline=$((SECONDS + timeout)) id out line state busy report rc
  while :; do
    busy=0 report="" rc=0
    for id in "$@"; do
      if ! out=$(scontrol -o show job "$id" 2>&1); then
        report+="$id UNKNOWN ($out)"$'\n'; rc=1; continue
      fi
      while IFS= read -r line; do
        [ -n "$line" ] || continue
        [[ $line =~ (^|\ )JobState=([A-Z_]+) ]] && state=${BASH_REMATCH[2]} || state=UNKNOWN
        local jid="" exit_code=""
        [[ $line =~ (^|\ )JobId=([0-9]+) ]] && jid=${BASH_REMATCH[2]}
        if [[ $line =~ (^|\ )ArrayJobId=([0-9]+)\ ArrayTaskId=([^ ]+) ]]; then
          jid=${BASH_REMATCH[2]}_${BASH_REMATCH[3]}
        fi
        [[ $line =~ (^|\ )ExitCode=([0-9:]+) ]] && exit_code=${BASH_REMATCH[2]}
        case $state in
          COMPLETED) ;;
          FAILED | CANCELLED | TIMEOUT | NODE_FAIL | PREEMPTED | BOOT_FAIL | DEADLINE | OUT_OF_MEMORY) rc=1 ;;
          UNKNOWN) rc=1 ;;
          *) busy=1 ;; # PENDING, RUNNING, COMPLETING, CONFIGURING, SUSPENDED, REQUEUED, ...
        esac
        report+="$jid $state $exit_code"$'\n'
      done <<<"$out"
    done
    if ((!busy)); then
      printf '%s' "$report" | sort -V
      return "$rc"
    fi
    if ((SECONDS >= deadline)); then
      printf '%s' "$report" | sort -V
      _slurm_local_say "timed out after ${timeout}s waiting for jobs $*"
      return 1
    fi
    sleep 1
  done
}

# Stops what slurm_local_start started in DIR: cancels its jobs, then ends slurmd, slurmctld, munged and
# any job step daemons (slurmstepd outlives slurmd by design) with TERM, then KILL after 10 s. Processes
# are found by pid file and, for pid files not yet written or already gone, by the SLURM_CONF=DIR/...
# every daemon of this cluster carries in its environment. Safe to call twice or on a failed start.
slurm_local_stop() {
  if [ $# -ne 1 ]; then _slurm_local_say "usage: slurm_local_stop DIR"; return 2; fi
  local dir
  dir=$(cd "$1" 2>/dev/null && pwd -P) || return 0
  local conf=$dir/slurm.conf pidf pid i env

  if _slurm_local_pid_alive "$dir/run/slurmctld.pid" && [ -f "$conf" ]; then
    SLURM_CONF=$conf scancel --full --quiet --user=root 2>/dev/null  # --full: also the batch shell's children
    for ((i = 0; i < 20; i++)); do
      [ -z "$(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi

  local pids=() stepds=()
  for pidf in "$dir"/run/{slurmd,slurmctld,munged}.pid; do
    _slurm_local_pid_alive "$pidf" && pids+=("$(<"$pidf")")
  done
  for pidf in /proc/[0-9]*; do
    case $(cat "$pidf/comm" 2>/dev/null) in munged | slurmctld | slurmd | slurmstepd) ;; *) continue ;; esac
    env=$(tr '\0' '\n' 2>/dev/null <"$pidf/environ") || continue  # no pipe: safe under pipefail
    [[ $'\n'$env$'\n' == *$'\n'"SLURM_CONF=$conf"$'\n'* ]] || continue
    pids+=("${pidf#/proc/}")
    [ "$(cat "$pidf/comm" 2>/dev/null)" = slurmstepd ] && stepds+=("${pidf#/proc/}")
  done
  # Jobs whose cancel did not get through (controller already gone): their processes descend from
  # this cluster's slurmstepd; they would otherwise be orphaned when it ends.
  if ((${#stepds[@]})); then
    local jobs=()
    read -ra jobs <<<"$(_slurm_local_descendants "${stepds[@]}")"
    pids+=("${jobs[@]}")
  fi
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    local left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    pids=("${left[@]}")
    ((${#pids[@]})) || break
    sleep 0.1
  done
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  rm -f "$dir"/run/*.pid
  [ "${SLURM_CONF:-}" = "$conf" ] && unset SLURM_CONF
  return 0
}

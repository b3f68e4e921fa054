#!/usr/bin/env bash
# slurm-test-cluster.sh - a real SLURM cluster on this one host, for the tests of the slurm executor.
#
#   slurm-test-cluster.sh install                  install the Debian packages (only those missing)
#   slurm-test-cluster.sh start DIR                start a cluster whose state lives in DIR
#   slurm-test-cluster.sh stop DIR                 stop it: cancel jobs, then every daemon by PID
#   slurm-test-cluster.sh run DIR -- COMMAND...    in a private network namespace: start, run
#                                                  COMMAND with the cluster's environment, stop;
#                                                  exits with COMMAND's exit code
#
# The cluster: munged, MariaDB + slurmdbd (accounting, so `sacct` works), slurmctld, several
# emulated nodes (`slurmd -N nX` on 127.0.0.1, each with 2 fake GPUs: character devices with
# NVIDIA's major number and no driver behind them) and slurmrestd with JWT. Nothing comes from
# /etc or /run and nothing uses systemd, so it cannot collide with a system SLURM or MariaDB.
# Every daemon's PID is recorded in DIR/pids/ and `stop` signals only those PIDs.
#
# slurmctld, slurmd and slurmdbd listen on all interfaces (Slurm 22.05 has no bind option), so
# `start` refuses to run in the host's network namespace; `run` makes a private one
# (`unshare --net`, loopback up). Must run as root (munge, cgroups, mknod, unshare).
#
# DIR/env is a file to `source`: SLURM_CONF, SLURM_TEST_REST_URL, the node names, etc.
#
# Settings (environment variables, all optional):
#   SLURM_TEST_NODES=4           number of emulated nodes (>= 2); the first half has gpu:a100:2,
#                                the rest gpu:h100:2
#   SLURM_TEST_NODE_PREFIX=n     node names are PREFIX1..PREFIXN (also names the nodes' cgroups,
#                                so two clusters sharing one host's cgroups need different ones)
#   SLURM_TEST_CGROUPS=auto      yes|no|auto: proctrack/task cgroup plugins (cgroup v1) when usable
#   SLURM_TEST_ACCOUNTING=1      0: no MariaDB/slurmdbd (starts in well under a second, no sacct)
#   SLURM_TEST_REST=1            0: no slurmrestd
#   SLURM_TEST_USERS=            extra existing users that get an accounting association
#   SLURM_TEST_CTLD_PORT=6817 SLURM_TEST_DBD_PORT=6819 SLURM_TEST_REST_PORT=6820
#   SLURM_TEST_DB_PORT=6821 SLURM_TEST_SLURMD_PORT=6918 (first node; the others follow)
#   SLURM_TEST_HOST_NETWORK=0    1: allow `start` in the host's network namespace
set -euo pipefail

SELF=$(realpath "$0")
NODES=${SLURM_TEST_NODES:-4}
NODE_PREFIX=${SLURM_TEST_NODE_PREFIX:-n}
CGROUPS=${SLURM_TEST_CGROUPS:-auto}
ACCOUNTING=${SLURM_TEST_ACCOUNTING:-1}
REST=${SLURM_TEST_REST:-1}
EXTRA_USERS=${SLURM_TEST_USERS:-}
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-6817}
DBD_PORT=${SLURM_TEST_DBD_PORT:-6819}
REST_PORT=${SLURM_TEST_REST_PORT:-6820}
DB_PORT=${SLURM_TEST_DB_PORT:-6821}
SLURMD_PORT=${SLURM_TEST_SLURMD_PORT:-6918}
# sbatch -> running in ~0.3 s instead of ~2.4 s (the reference's measurements).
SCHED_PARAMS=${SLURM_TEST_SCHEDULER_PARAMETERS:-batch_sched_delay=0,bf_interval=1,sched_interval=2}
CLUSTER=testcluster
ACCOUNT=testacct
MARKER=.slurm-test-cluster

packages=(munge slurmctld slurmd slurm-client slurmrestd slurm-wlm-jwt-plugin slurmdbd
  mariadb-server curl procps iproute2 util-linux)

log() { echo "slurm-test-cluster: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() {
  sed -n '3,9p' "$SELF" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Microseconds since the epoch, and the time since a start mark in seconds (x.yz).
now_us() { echo "${EPOCHREALTIME/./}"; }
since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }

# wait_for DESCRIPTION TIMEOUT_S COMMAND... - poll COMMAND every 0.1 s until it succeeds.
wait_for() {
  local desc=$1 timeout=$2
  shift 2
  local deadline=$(($(now_us) + timeout * 1000000))
  until "$@" >/dev/null 2>&1; do
    daemons_alive || return 1
    if (($(now_us) > deadline)); then
      log "timed out after ${timeout}s waiting for $desc"
      return 1
    fi
    sleep 0.1
  done
}

# During start-up (START_DIR set): fail at once when a daemon that was started has exited,
# instead of polling its readiness check until the timeout.
START_DIR=
daemons_alive() {
  [ -n "$START_DIR" ] || return 0
  local f pid
  for f in "$START_DIR"/pids/*.pid; do
    [ -s "$f" ] || continue
    pid=$(tr -dc '0-9' <"$f")
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "$(basename "$f" .pid) exited during start-up (see $START_DIR/log)"
      return 1
    fi
  done
}

node_names() {
  local i
  for ((i = 1; i <= NODES; i++)); do echo "$NODE_PREFIX$i"; done
}

require_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (munge keys, cgroups, mknod, unshare)"; }

# True when this network namespace has no interface but loopback: nothing outside can reach the
# daemons. (Comparing with PID 1's namespace does not work where /proc/1 is not readable.)
in_private_netns() {
  local links
  links=$(ip -o link show) || return 1
  [ -z "$(awk -F': ' '$2 != "lo" { print $2 }' <<<"$links")" ]
}

# ---------------------------------------------------------------------------------------------
# install

cmd_install() {
  local missing=() pkg
  for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#packages[@]} packages present"
    return 0
  fi
  log "installing ${missing[*]}"
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------------------------------------
# PID files: every daemon has DIR/pids/NAME.pid, and is signalled only while that PID still runs
# the expected program (a PID can be reused after the daemon died).

# pid_of FILE COMM - print the PID in FILE if that process is alive and named COMM.
pid_of() {
  local file=$1 comm=$2 pid
  [ -s "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] || return 1
  [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = "$comm" ] || return 1
  echo "$pid"
}

# The daemons of DIR as "pidfile comm" lines, in start order.
daemon_list() {
  local dir=$1 n
  echo "$dir/pids/munged.pid munged"
  echo "$dir/pids/mariadbd.pid mariadbd"
  echo "$dir/pids/slurmdbd.pid slurmdbd"
  echo "$dir/pids/slurmctld.pid slurmctld"
  for n in $(node_names_of "$dir"); do echo "$dir/pids/slurmd-$n.pid slurmd"; done
  echo "$dir/pids/slurmrestd.pid slurmrestd"
}

# The node names of an existing cluster dir (from its slurm.conf), else the configured ones.
node_names_of() {
  local conf=$1/etc/slurm.conf
  if [ -f "$conf" ]; then
    sed -n 's/^NodeName=\([^ ]*\) .*/\1/p' "$conf"
  else
    node_names
  fi
}

any_daemon_alive() {
  local file comm
  while read -r file comm; do
    pid_of "$file" "$comm" >/dev/null && return 0
  done < <(daemon_list "$1")
  return 1
}

# stop_tier DIR NAME... - SIGTERM the named daemons together, wait up to 10 s, then SIGKILL.
stop_tier() {
  local dir=$1
  shift
  local pids=() file comm pid want t0
  t0=$(now_us)
  while read -r file comm; do
    local base=${file##*/}
    base=${base%.pid}
    local name
    for name in "$@"; do
      if [ "$base" = "$name" ] || [[ $name == 'slurmd-*' && $base == slurmd-* ]]; then
        if pid=$(pid_of "$file" "$comm"); then
          kill -TERM "$pid" 2>/dev/null || true
          pids+=("$pid:$comm:$file")
        fi
      fi
    done
  done < <(daemon_list "$dir")
  [ ${#pids[@]} -gt 0 ] || return 0
  local deadline=$(($(now_us) + 10000000)) alive=1 p
  while ((alive)); do
    alive=0
    for p in "${pids[@]}"; do
      want=${p#*:}
      want=${want%%:*}
      [ "$(ps -p "${p%%:*}" -o comm= 2>/dev/null)" = "$want" ] && alive=1
    done
    ((alive)) || break
    if (($(now_us) > deadline)); then
      for p in "${pids[@]}"; do
        want=${p#*:}
        want=${want%%:*}
        if [ "$(ps -p "${p%%:*}" -o comm= 2>/dev/null)" = "$want" ]; then
          log "SIGKILL $want (pid ${p%%:*}): still running 10 s after SIGTERM"
          kill -KILL "${p%%:*}" 2>/dev/null || true
        fi
      done
      deadline=$(($(now_us) + 5000000))
    fi
    sleep 0.1
  done
  for p in "${pids[@]}"; do rm -f "${p##*:}"; done
  log "  stopped $* in $(since "$t0")s"
}

# ---------------------------------------------------------------------------------------------
# start

cgroups_usable() {
  local c probe=/sys/fs/cgroup/freezer/slurm-test-probe.$$
  for c in freezer memory devices; do [ -d /sys/fs/cgroup/$c ] || return 1; done
  mkdir "$probe" 2>/dev/null || return 1
  rmdir "$probe"
}

write_configs() {
  local d=$1 use_cgroups=$2 i n port type half=$(((NODES + 1) / 2))

  {
    echo "# generated by slurm-test-cluster.sh"
    cat <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/pids/slurmctld.pid
SlurmdPidFile=$d/pids/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldParameters=preempt_send_user_signal
SchedulerType=sched/backfill
SchedulerParameters=$SCHED_PARAMS
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=512
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
DependencyParameters=kill_invalid_depend
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=60
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=10
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
GresTypes=gpu
EOF
    if [ "$use_cgroups" = yes ]; then
      echo "ProctrackType=proctrack/cgroup"
      echo "TaskPlugin=task/cgroup"
    else
      echo "ProctrackType=proctrack/linuxproc"
      echo "TaskPlugin=task/none"
    fi
    if [ "$ACCOUNTING" = 1 ]; then
      cat <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$d/munge/munge.socket
AccountingStorageEnforce=associations,limits,qos
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
EOF
    else
      echo "AccountingStorageType=accounting_storage/none"
    fi
    echo "AuthAltTypes=auth/jwt"
    echo "AuthAltParameters=jwt_key=$d/secret/jwt_hs256.key"
    for ((i = 1; i <= NODES; i++)); do
      n=$NODE_PREFIX$i port=$((SLURMD_PORT + i - 1)) type=a100
      ((i <= half)) || type=h100
      echo "NodeName=$n NodeHostname=localhost NodeAddr=127.0.0.1 Port=$port CPUs=8 RealMemory=8192 Gres=gpu:$type:2 State=UNKNOWN"
    done
    echo "PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=10"
    echo "PartitionName=high Nodes=ALL MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF"
  } >"$d/etc/slurm.conf"

  {
    echo "AutoDetect=off"
    for ((i = 1; i <= NODES; i++)); do
      type=a100
      ((i <= half)) || type=h100
      echo "NodeName=$NODE_PREFIX$i Name=gpu Type=$type File=$d/dev/nvidia[0-1]"
    done
  } >"$d/etc/gres.conf"

  if [ "$use_cgroups" = yes ]; then
    # ConstrainCores=no: the nodes declare 8 CPUs each on a machine with fewer.
    cat >"$d/etc/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
ConstrainDevices=yes
ConstrainCores=no
EOF
  fi

  if [ "$ACCOUNTING" = 1 ]; then
    # slurmdbd refuses a slurmdbd.conf readable by others; create it 0600 before writing.
    install -m 600 /dev/null "$d/etc/slurmdbd.conf"
    cat >"$d/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$d/log/slurmdbd.log
PidFile=$d/pids/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$d/secret/jwt_hs256.key
EOF
  fi
}

# start_fg PIDFILE LOG COMMAND... - start a daemon that stays in the foreground, detached, with
# its real PID in PIDFILE (the shell writes its own PID, then execs the daemon).
start_fg() {
  local pidfile=$1 logfile=$2
  shift 2
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner shell
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1 &
}

nodes_idle() {
  local want=$1
  [ "$(sinfo -h -N -p main -o '%N %T' | awk '$2 == "idle"' | wc -l)" -eq "$want" ]
}

rest_ready() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$REST_PORT/slurm/v0.0.38/ping")" = 401 ]
}

start_failed() {
  local d=$1
  log "start failed; the last lines of the logs in $d/log:"
  local f
  for f in "$d"/log/*.log; do
    [ -s "$f" ] || continue
    echo "--- $f" >&2
    grep -v -e pmix -e 'MPI: Cannot create context' "$f" | tail -n 5 >&2
  done
  cmd_stop "$d" || true
}

cmd_start() {
  [ $# -eq 1 ] || usage
  require_root
  if ! in_private_netns && [ "${SLURM_TEST_HOST_NETWORK:-0}" != 1 ]; then
    die "refusing to start in the host's network namespace: slurmctld, slurmd and slurmdbd listen
  on all interfaces. Use '$0 run DIR -- COMMAND', or start inside 'unshare --net' with lo up
  (or set SLURM_TEST_HOST_NETWORK=1 to accept that)."
  fi
  if ! [[ $NODES =~ ^[0-9]+$ ]] || ((NODES < 2 || NODES > 64)); then
    die "SLURM_TEST_NODES must be 2..64, got '$NODES'"
  fi
  [[ $NODE_PREFIX =~ ^[a-z][a-z0-9]*$ ]] || die "SLURM_TEST_NODE_PREFIX must be lowercase letters/digits, got '$NODE_PREFIX'"
  local bin
  for bin in munged slurmctld slurmd sinfo; do
    command -v "$bin" >/dev/null || die "$bin not found: run '$0 install' first"
  done

  local d
  d=$(realpath -m "$1")
  if [ -e "$d" ] && [ -n "$(ls -A "$d")" ]; then
    [ -f "$d/$MARKER" ] || die "$d exists and is not empty (and is not a cluster dir of this script)"
    ! any_daemon_alive "$d" || die "a cluster is running in $d: stop it first"
    # A stopped cluster of ours: start afresh.
    find "$d" -mindepth 1 -delete
  fi
  # Unix socket paths are limited to 108 bytes.
  ((${#d} <= 80)) || die "DIR path too long for unix sockets (${#d} > 80 bytes): use a short one"

  local use_cgroups=$CGROUPS
  case $CGROUPS in
    auto) if cgroups_usable; then use_cgroups=yes; else use_cgroups=no; fi ;;
    yes) cgroups_usable || die "SLURM_TEST_CGROUPS=yes but cgroup v1 freezer/memory/devices are not usable" ;;
    no) ;;
    *) die "SLURM_TEST_CGROUPS must be yes, no or auto, got '$CGROUPS'" ;;
  esac

  local t0 t
  t0=$(now_us)
  mkdir -p "$d"
  chmod 755 "$d"
  touch "$d/$MARKER"
  mkdir -p "$d"/{etc,pids,run,log,state,dev,mysql} "$d/munge"
  chmod 755 "$d/munge" # every directory up to the munge socket needs o+x (non-root clients)
  install -d -m 700 "$d/secret"
  local n
  for n in $(node_names); do mkdir -p "$d/spool/$n"; done
  # Lets `stop` find stray slurmstepd processes of this cluster (those in its private namespace).
  if in_private_netns; then readlink /proc/self/ns/net >"$d/netns"; fi
  trap 'd=$START_DIR; START_DIR=; start_failed "$d"' EXIT
  START_DIR=$d

  head -c 1024 /dev/urandom >"$d/secret/munge.key"
  chmod 400 "$d/secret/munge.key"
  head -c 32 /dev/urandom >"$d/secret/jwt_hs256.key"
  chmod 600 "$d/secret/jwt_hs256.key"
  # Fake GPUs: character devices with NVIDIA's major number 195 and no driver behind them. A
  # major:minor that exists (like /dev/null's) would be denied to every job by ConstrainDevices.
  mknod -m 666 "$d/dev/nvidia0" c 195 0
  mknod -m 666 "$d/dev/nvidia1" c 195 1
  write_configs "$d" "$use_cgroups"
  export SLURM_CONF=$d/etc/slurm.conf
  log "starting in $d: $NODES nodes, cgroups=$use_cgroups, accounting=$ACCOUNTING, rest=$REST"

  t=$(now_us)
  munged --force --socket="$d/munge/munge.socket" --key-file="$d/secret/munge.key" \
    --pid-file="$d/pids/munged.pid" --seed-file="$d/secret/munged.seed" \
    --log-file="$d/log/munged.log" </dev/null >>"$d/log/munged.log" 2>&1
  wait_for munged 15 sh -c "munge -S '$d/munge/munge.socket' -n | unmunge -S '$d/munge/munge.socket'"
  log "  munged ready in $(since "$t")s"

  if [ "$ACCOUNTING" = 1 ]; then
    t=$(now_us)
    local t_db=$t
    mariadb-install-db --no-defaults --datadir="$d/mysql" --user=root \
      --auth-root-authentication-method=normal --skip-test-db --innodb-log-file-size=16M \
      >>"$d/log/mariadb-install-db.log" 2>&1 </dev/null
    log "  mariadb-install-db in $(since "$t_db")s"
    start_fg "$d/pids/mariadbd.pid" "$d/log/mariadbd.log" mariadbd --no-defaults \
      --datadir="$d/mysql" --user=root --bind-address=127.0.0.1 --port="$DB_PORT" \
      --socket="$d/run/mysqld.sock" --pid-file="$d/run/mariadbd-own.pid" \
      --log-error="$d/log/mariadbd.log" --skip-log-bin --innodb-buffer-pool-size=128M \
      --innodb-log-file-size=16M --innodb-lock-wait-timeout=900
    wait_for mariadbd 60 mariadb-admin --no-defaults -S "$d/run/mysqld.sock" -uroot ping
    mariadb --no-defaults -S "$d/run/mysqld.sock" -uroot -e "
      CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
      CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
      GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
    log "  mariadbd ready in $(since "$t")s"

    t=$(now_us)
    slurmdbd </dev/null >>"$d/log/slurmdbd.log" 2>&1
    wait_for slurmdbd 30 sacctmgr -n show cluster
    log "  slurmdbd ready in $(since "$t")s"

    # Associations before slurmctld starts: AccountingStorageEnforce=associations refuses jobs
    # of users without one.
    t=$(now_us)
    local users=root u
    for u in $EXTRA_USERS; do
      id "$u" >/dev/null 2>&1 || die "SLURM_TEST_USERS names '$u', which is not a user of this host"
      users+=",$u"
    done
    # One sacctmgr process for all three (each separate call costs ~0.6-1 s).
    printf '%s\n' "add cluster $CLUSTER" \
      "add account $ACCOUNT Description=tests Organization=tests" \
      "add user $users Account=$ACCOUNT DefaultAccount=$ACCOUNT" |
      sacctmgr -i >"$d/log/sacctmgr.log" 2>&1
    [ "$(sacctmgr -n -P show assoc cluster="$CLUSTER" account="$ACCOUNT" user=root format=user)" = root ] ||
      die "creating the accounting associations failed: $(cat "$d/log/sacctmgr.log")"
    log "  accounts (cluster $CLUSTER, account $ACCOUNT, users $users) in $(since "$t")s"
  fi

  t=$(now_us)
  slurmctld </dev/null >>"$d/log/slurmctld.log" 2>&1
  wait_for slurmctld 30 sh -c "scontrol ping | grep -q 'is UP'"
  log "  slurmctld ready in $(since "$t")s"

  t=$(now_us)
  for n in $(node_names); do
    slurmd -N "$n" </dev/null >>"$d/log/slurmd-$n.log" 2>&1
  done
  wait_for "$NODES idle nodes" 30 nodes_idle "$NODES"
  log "  $NODES slurmd idle in $(since "$t")s"

  if [ "$REST" = 1 ]; then
    t=$(now_us)
    local plugins=openapi/v0.0.38
    # The dbv0.0.38 plugin is fatal without slurmdbd.
    [ "$ACCOUNTING" = 1 ] && plugins+=,openapi/dbv0.0.38
    # SLURM_JWT=daemon: without it every token is refused. slurmrestd refuses to run as root.
    SLURM_JWT=daemon start_fg "$d/pids/slurmrestd.pid" "$d/log/slurmrestd.log" \
      slurmrestd -u nobody -a rest_auth/jwt -s "$plugins" "127.0.0.1:$REST_PORT"
    wait_for slurmrestd 30 rest_ready
    log "  slurmrestd ready in $(since "$t")s"
  fi

  {
    echo "# source this file to use the test cluster (generated by slurm-test-cluster.sh)"
    printf 'export SLURM_CONF=%q\n' "$SLURM_CONF"
    printf 'export SLURM_TEST_DIR=%q\n' "$d"
    printf 'export SLURM_TEST_CLUSTER=%q\n' "$CLUSTER"
    printf 'export SLURM_TEST_ACCOUNT=%q\n' "$ACCOUNT"
    printf 'export SLURM_TEST_NODE_NAMES=%q\n' "$(node_names | paste -sd' ')"
    printf 'export SLURM_TEST_PARTITIONS=%q\n' "main high"
    printf 'export SLURM_TEST_CGROUPS=%q\n' "$use_cgroups"
    printf 'export SLURM_TEST_ACCOUNTING=%q\n' "$ACCOUNTING"
    if [ "$REST" = 1 ]; then
      printf 'export SLURM_TEST_REST_URL=%q\n' "http://127.0.0.1:$REST_PORT"
    fi
  } >"$d/env"
  START_DIR=
  trap - EXIT
  log "cluster ready in $(since "$t0")s; environment in $d/env:"
  grep '^export' "$d/env" | sed 's/^export /  /' >&2
}

# ---------------------------------------------------------------------------------------------
# stop

cmd_stop() {
  [ $# -eq 1 ] || usage
  require_root
  local d
  d=$(realpath -m "$1")
  [ -f "$d/$MARKER" ] || die "$d is not a cluster dir of this script"

  # A cluster started in another network namespace is reachable only from inside it: enter the
  # namespace of one of its daemons, so that scancel/squeue can talk to slurmctld.
  local file comm pid
  while read -r file comm; do
    if pid=$(pid_of "$file" "$comm"); then
      if [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]; then
        exec nsenter --net="/proc/$pid/ns/net" -- "$SELF" stop "$d"
      fi
      break
    fi
  done < <(daemon_list "$d")

  local t0 t
  t0=$(now_us)
  export SLURM_CONF=$d/etc/slurm.conf
  rm -f "$d/env"

  # Stopping slurmd does not kill running jobs (slurmstepd lives on): cancel and drain them first.
  if pid_of "$d/pids/slurmctld.pid" slurmctld >/dev/null; then
    t=$(now_us)
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null | sort -u | paste -sd' ' || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      # shellcheck disable=SC2016
      wait_for "jobs to end" 15 sh -c '[ -z "$(squeue -h -t R,CG,S,PD -o %A)" ]' ||
        log "jobs still listed: $(squeue -h -t R,CG,S -o '%A %T' | paste -sd' ')"
      log "  cancelled jobs $jobs in $(since "$t")s"
    fi
  fi

  stop_tier "$d" slurmrestd slurmctld 'slurmd-*'
  stop_tier "$d" slurmdbd
  stop_tier "$d" mariadbd munged

  # Job processes that outlived their slurmstepd (e.g. after a failed drain).
  local n cg
  for n in $(node_names_of "$d"); do
    for cg in /sys/fs/cgroup/*/slurm_"$n"; do
      [ -d "$cg" ] || continue
      local p
      # shellcheck disable=SC2013 # one PID per line
      for p in $(cat "$cg"/cgroup.procs "$cg"/*/cgroup.procs "$cg"/*/*/cgroup.procs \
        "$cg"/*/*/*/cgroup.procs 2>/dev/null); do
        log "  killing leftover job process $p ($(ps -p "$p" -o comm= 2>/dev/null || true)) in $cg"
        kill -KILL "$p" 2>/dev/null || true
      done
      # Children first; a cgroup can be removed once its processes are gone.
      wait_for "cgroup $cg to empty" 5 sh -c "find '$cg' -depth -type d -exec rmdir {} + 2>/dev/null; [ ! -d '$cg' ]" ||
        log "could not remove $cg"
    done
  done
  # Without cgroups, slurmstepd processes are found by the cluster's private network namespace.
  if [ -s "$d/netns" ]; then
    local ns p
    ns=$(cat "$d/netns")
    for p in $(pgrep -x slurmstepd || true); do
      if [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$ns" ]; then
        log "  killing leftover slurmstepd $p"
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
  fi

  rm -rf "${d:?}"/{munge,run,spool,state,mysql,dev,secret}
  # PID files of daemons that had already died (the others were removed by stop_tier).
  while read -r file comm; do
    pid_of "$file" "$comm" >/dev/null || rm -f "$file"
  done < <(daemon_list "$d")
  if any_daemon_alive "$d"; then
    die "a daemon of $d is still running"
  fi
  log "stopped in $(since "$t0")s (logs kept in $d/log)"
}

# ---------------------------------------------------------------------------------------------
# run

cmd_run() {
  if [ $# -lt 3 ] || [ "$2" != -- ]; then usage; fi
  require_root
  command -v unshare >/dev/null || die "unshare (util-linux) not found"
  local d=$1
  shift 2
  exec unshare --net -- "$SELF" __run-inside "$d" -- "$@"
}

# Processes other than this script that live in this network namespace (leaked by COMMAND or
# by jobs); they would otherwise run on in a namespace nobody can reach.
leftovers_in_netns() {
  local ns p
  ns=$(readlink /proc/self/ns/net)
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    if [ "$p" = $$ ] || [ "$p" = "$BASHPID" ]; then continue; fi
    [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$ns" ] && echo "$p"
  done
  return 0
}

cmd_run_inside() {
  local d=$1
  shift 2
  in_private_netns || die "__run-inside must run in a private network namespace"
  ip link set lo up
  # Slurm resolves 127.0.0.1 with AI_ADDRCONFIG, which fails when only loopback addresses exist.
  ip addr add 10.254.254.254/32 dev lo
  local rc=0
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # A failed start cleans up after itself; only a started cluster needs this trap (and a start
  # refused because DIR holds a running cluster must not stop that cluster).
  cmd_start "$d"
  trap 'cmd_stop "$d" || true' EXIT
  set +e
  (
    # shellcheck disable=SC1091
    source "$d/env"
    exec "$@"
  )
  rc=$?
  set -e
  log "command exited with $rc"
  trap - EXIT
  cmd_stop "$d" || { log "stop failed"; [ "$rc" -ne 0 ] || rc=1; }
  local left p
  left=$(leftovers_in_netns)
  if [ -n "$left" ]; then
    for p in $left; do
      log "killing leftover process $p ($(ps -p "$p" -o args= 2>/dev/null || true))"
      kill -KILL "$p" 2>/dev/null || true
    done
  fi
  exit "$rc"
}

case ${1:-} in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  run) shift; cmd_run "$@" ;;
  __run-inside) shift; cmd_run_inside "$@" ;;
  *) usage ;;
esac

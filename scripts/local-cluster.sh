#!/usr/bin/env bash
# local-cluster.sh: run a Strand cluster of strand-server processes on 127.0.0.1.
#
#   scripts/local-cluster.sh up --controllers N --brokers B --dir DIR --base-port PORT
#       [--foreground] [--tls] [--timeout SECONDS] [--log-level LEVEL] [--config KEY=VALUE ...]
#   scripts/local-cluster.sh down --dir DIR [--grace SECONDS]
#
# up: starts N controllers (node ids 1..N, N <= 9), then B brokers (node ids 101..100+B,
#   B <= 89; broker number n gets --rack=rack-<n mod 3>), each with its data in DIR/node-ID and
#   its output in DIR/node-ID.log, and returns (exit 0) once the cluster serves: `strand cluster
#   describe --json` against the controllers shows an active controller and every broker
#   "running". On timeout (default 60 s) or when a node exits during start-up, it prints the
#   tail of the logs, stops what it started and exits 1. It refuses (exit 1) when DIR already
#   runs a cluster or a port is taken. --foreground: stay in the foreground and run `down` on
#   Ctrl-C (SIGINT, SIGTERM, SIGHUP). Data in DIR is kept between runs: `up` again restarts the
#   same cluster; remove DIR for a fresh one.
#   --tls: every listener SSL with client certificates required (mTLS, docs/security.md):
#   scripts/make-certs.sh makes DIR/certs (a CA, node-<id>.pem per node, client-admin.pem) unless
#   it holds them already, and DIR/client.properties holds the CLI's settings
#   (STRAND_COMMAND_CONFIG in cluster.env points at it).
#
# Ports (PORT = --base-port; the cluster uses PORT+1 .. PORT+399, never PORT itself). Each node
#   has a slot: a controller's slot is its id (1..9), a broker's its id - 90 (101 -> 11).
#     client / controller listener  PORT + slot  controllers' CONTROLLER listener PORT+1..PORT+9,
#                                                brokers' CLIENT listener PORT+11..PORT+99
#     /metrics                      PORT + 100 + slot (controllers and brokers)
#     brokers' REPLICATION listener PORT + 200 + slot (inter.broker.listener.name)
#     brokers' CONTROLLER listener  PORT + 300 + slot (the metadata log from the controllers)
#   e.g. PORT=9090: controller 1 at 127.0.0.1:9091 (metrics 9191), broker 101's client listener
#   at 9101 (metrics 9201, replication 9301, controller listener 9401).
#
# Files in DIR:
#   pids         one "ID PID" line per node (written by up, removed by down)
#   cluster.env  shell variables, for `source DIR/cluster.env` (written once the cluster serves,
#                removed by down): STRAND_BOOTSTRAP (broker addresses, or the controllers' when
#                B=0), STRAND_CONTROLLERS, STRAND_CLUSTER_DIR, and per node
#                STRAND_NODE_<id>_ADDR, STRAND_NODE_<id>_PID, STRAND_NODE_<id>_METRICS, and for
#                brokers STRAND_NODE_<id>_REPLICATION_ADDR and STRAND_NODE_<id>_CONTROLLER_ADDR;
#                with --tls, STRAND_COMMAND_CONFIG (the strand CLI's TLS settings).
#
# down: SIGTERM to every broker in DIR/pids, then to every controller (brokers' controlled
#   shutdown needs the controllers), each phase waiting up to --grace seconds (default 10) before
#   SIGKILLing the rest; removes DIR/pids and DIR/cluster.env; data and logs stay. Only the PIDs in DIR/pids
#   are signalled, and only while they still run that node (a strand-server whose command line
#   has --data-dir=DIR/node-ID), so a reused PID or another cluster's node is never touched.
#
# Exit codes: 0 done, 1 failed, 2 usage error. Binaries come from $STRAND_BIN_DIR (default:
# build/bin of this repository).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly BIN_DIR=${STRAND_BIN_DIR:-$(dirname "$SCRIPT_DIR")/build/bin}
readonly HOST=127.0.0.1
readonly CLUSTER_ID=strand-local
readonly CONTROLLERS_MAX=9
readonly BROKERS_MAX=89
readonly PORT_SPAN=399

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die_usage() {
  echo "local-cluster.sh: $*" >&2
  echo "run 'scripts/local-cluster.sh --help' for usage" >&2
  exit 2
}
die() {
  echo "local-cluster.sh: $*" >&2
  exit 1
}
# in_range VALUE MIN MAX: VALUE is a decimal integer in [MIN, MAX].
in_range() { [[ $1 =~ ^[0-9]{1,9}$ ]] && ((10#$1 >= $2 && 10#$1 <= $3)); }

slot_of() { if (($1 <= CONTROLLERS_MAX)); then echo "$1"; else echo $(($1 - 90)); fi; }
grpc_address() { echo "$HOST:$((BASE_PORT + $(slot_of "$1")))"; }
metrics_address() { echo "$HOST:$((BASE_PORT + 100 + $(slot_of "$1")))"; }
replication_address() { echo "$HOST:$((BASE_PORT + 200 + $(slot_of "$1")))"; }
broker_controller_address() { echo "$HOST:$((BASE_PORT + 300 + $(slot_of "$1")))"; }

# is_node PID ID: true while PID runs node ID of the cluster in $DIR, i.e. its command line names
# strand-server and --data-dir=$DIR/node-ID. False once it exited (a zombie's command line is
# empty) and for any other process holding the PID, another cluster's nodes included.
is_node() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmdline == *strand-server* && $cmdline == *" --data-dir=$DIR/node-$2 "* ]]
}

# PIDs started by this run of the script (its children), as keys.
declare -A STARTED=()

# is_running PID ID: node ID still runs as PID. A child of this run is judged by its state alone:
# its PID cannot be reused before the script reaps it, and its command line is in flux while it
# execs. Any other PID must pass is_node.
is_running() {
  if [[ -z ${STARTED[$1]:-} ]]; then
    is_node "$1" "$2"
    return
  fi
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# ---------------------------------------------------------------------------------- arguments
COMMAND=${1:-}
(($# > 0)) && shift
CONTROLLERS="" BROKERS=0 DIR="" BASE_PORT="" FOREGROUND=0 TLS=0 TIMEOUT_S=60 GRACE_S=10 LOG_LEVEL=info
SERVER_CONFIGS=()
UP_ONLY=()  # up-only options seen, refused by down

parse_args() {
  while (($# > 0)); do
    local opt=$1 value="" has_value=0
    if [[ $opt == --*=* ]]; then value=${opt#*=} opt=${opt%%=*} has_value=1; fi
    case $opt in
      -h | --help) usage; exit 0 ;;
      --foreground) FOREGROUND=1 UP_ONLY+=("$opt"); shift; continue ;;
      --tls) TLS=1 UP_ONLY+=("$opt"); shift; continue ;;
      --controllers | --brokers | --dir | --base-port | --timeout | --grace | --log-level | --config) ;;
      *) die_usage "unknown option '$opt'" ;;
    esac
    if ((!has_value)); then
      (($# >= 2)) || die_usage "$opt needs a value"
      value=$2
      shift
    fi
    shift
    case $opt in
      --controllers) CONTROLLERS=$value UP_ONLY+=("$opt") ;;
      --brokers) BROKERS=$value UP_ONLY+=("$opt") ;;
      --dir) DIR=$value ;;
      --base-port) BASE_PORT=$value UP_ONLY+=("$opt") ;;
      --timeout) TIMEOUT_S=$value UP_ONLY+=("$opt") ;;
      --grace) GRACE_S=$value ;;
      --log-level) LOG_LEVEL=$value UP_ONLY+=("$opt") ;;
      --config) SERVER_CONFIGS+=("$value") UP_ONLY+=("$opt") ;;
    esac
  done
}

check_up_args() {
  [[ -n $CONTROLLERS ]] || die_usage "up needs --controllers N"
  in_range "$CONTROLLERS" 1 "$CONTROLLERS_MAX" ||
    die_usage "--controllers must be 1..$CONTROLLERS_MAX, not '$CONTROLLERS'"
  in_range "$BROKERS" 0 "$BROKERS_MAX" ||
    die_usage "--brokers must be 0..$BROKERS_MAX, not '$BROKERS'"
  [[ -n $DIR ]] || die_usage "up needs --dir DIR"
  [[ -n $BASE_PORT ]] || die_usage "up needs --base-port PORT"
  in_range "$BASE_PORT" 1024 $((65535 - PORT_SPAN)) ||
    die_usage "--base-port must be 1024..$((65535 - PORT_SPAN)), not '$BASE_PORT'"
  in_range "$TIMEOUT_S" 1 86400 || die_usage "--timeout must be 1..86400 seconds"
  in_range "$GRACE_S" 1 3600 || die_usage "--grace must be 1..3600 seconds"
  [[ $LOG_LEVEL =~ ^(trace|debug|info|warn|error|critical|off)$ ]] ||
    die_usage "--log-level must be trace, debug, info, warn, error, critical or off"
  local c
  for c in "${SERVER_CONFIGS[@]}"; do
    [[ $c == ?*=* ]] || die_usage "--config '$c' is not KEY=VALUE"
  done
}

check_down_args() {
  ((${#UP_ONLY[@]} == 0)) || die_usage "down takes only --dir and --grace, not ${UP_ONLY[0]}"
  [[ -n $DIR ]] || die_usage "down needs --dir DIR"
}

# ----------------------------------------------------------------------------------------- down
# Stops every node listed in $DIR/pids: brokers first (their controlled shutdown needs the
# controllers), then controllers. Each phase: SIGTERM, up to $1 seconds, then SIGKILL.
stop_cluster() {
  local grace_s=$1
  if [[ ! -f $DIR/pids ]]; then
    echo "local-cluster.sh: no cluster in $DIR (no pids file)"
    return 0
  fi
  stop_nodes "$grace_s" brokers
  stop_nodes "$grace_s" controllers
  rm -f "$DIR/pids" "$DIR/cluster.env"
  echo "local-cluster.sh: stopped the cluster in $DIR (data and logs kept)"
}

# stop_nodes GRACE brokers|controllers: stops the running nodes of that kind (ids >= 100 are
# brokers).
stop_nodes() {
  local grace_s=$1 kind=$2 id pid
  local -A live=()
  while read -r id pid; do
    [[ $pid =~ ^[0-9]+$ && $id =~ ^[0-9]+$ ]] || continue
    if [[ $kind == brokers ]]; then ((id >= 100)) || continue; else ((id < 100)) || continue; fi
    if is_running "$pid" "$id"; then
      kill -TERM "$pid" 2>/dev/null || true
      live[$pid]=$id
    fi
  done <"$DIR/pids"
  local tenths
  for ((tenths = 0; tenths < grace_s * 10 && ${#live[@]} > 0; tenths++)); do
    sleep 0.1
    for pid in "${!live[@]}"; do is_running "$pid" "${live[$pid]}" || unset "live[$pid]"; done
  done
  for pid in "${!live[@]}"; do
    echo "local-cluster.sh: node ${live[$pid]} (pid $pid) still running after ${grace_s}s; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
  for ((tenths = 0; tenths < 50 && ${#live[@]} > 0; tenths++)); do
    for pid in "${!live[@]}"; do is_running "$pid" "${live[$pid]}" || unset "live[$pid]"; done
    ((${#live[@]} == 0)) || sleep 0.1
  done
}

# ------------------------------------------------------------------------------------------- up
NODE_IDS=()
node_ids() {
  local i
  for ((i = 1; i <= CONTROLLERS; i++)); do NODE_IDS+=("$i"); done
  for ((i = 1; i <= BROKERS; i++)); do NODE_IDS+=("$((100 + i))"); done
}

join_by_comma() { local IFS=,; echo "$*"; }

controller_addresses() {
  local i out=()
  for ((i = 1; i <= CONTROLLERS; i++)); do out+=("$(grpc_address "$i")"); done
  join_by_comma "${out[@]}"
}

broker_addresses() {
  local i out=()
  for ((i = 1; i <= BROKERS; i++)); do out+=("$(grpc_address "$((100 + i))")"); done
  join_by_comma "${out[@]}"
}

refuse_running_cluster() {
  [[ -f $DIR/pids ]] || return 0
  local id pid
  while read -r id pid; do
    [[ $pid =~ ^[0-9]+$ ]] || continue
    if is_node "$pid" "$id"; then
      die "$DIR already runs a cluster (node $id is pid $pid); stop it with: $0 down --dir $DIR"
    fi
  done <"$DIR/pids"
  echo "local-cluster.sh: removing stale $DIR/pids (none of its processes runs)" >&2
  rm -f "$DIR/pids"
}

refuse_taken_ports() {
  local ports=() id slot taken
  for id in "${NODE_IDS[@]}"; do
    slot=$(slot_of "$id")
    ports+=("$((BASE_PORT + slot))" "$((BASE_PORT + 100 + slot))")
    ((id > CONTROLLERS_MAX)) && ports+=("$((BASE_PORT + 200 + slot))" "$((BASE_PORT + 300 + slot))")
  done
  taken=$(python3 - "${ports[@]}" <<'PY'
import socket, sys
for port in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(port)))
    except OSError:
        print(port)
    finally:
        s.close()
PY
  )
  [[ -z $taken ]] || die "port(s) already taken on $HOST: ${taken//$'\n'/ }; pick another --base-port"
}

start_node() {
  local id=$1 role=$2 n=$3 quorum=$4
  local args=(--roles="$role" --node-id="$id" --controller-quorum="$quorum"
    --data-dir="$DIR/node-$id" --config=controller.listener.names=CONTROLLER
    --metrics-listen="$(metrics_address "$id")" --cluster-id="$CLUSTER_ID" --log-level="$LOG_LEVEL")
  local protocol=PLAINTEXT
  if ((TLS)); then
    protocol=SSL
    args+=(--config="ssl.keystore.location=$DIR/certs/node-$id.pem"
      --config="ssl.truststore.location=$DIR/certs/ca.pem" --config=ssl.client.auth=required)
  fi
  if [[ $role == broker ]]; then
    # Each plane on its own port (docs/security.md).
    args+=(--rack="rack-$((n % 3))"
      --config="listeners=CLIENT://$(grpc_address "$id"),REPLICATION://$(replication_address "$id"),CONTROLLER://$(broker_controller_address "$id")"
      --config="listener.security.protocol.map=CLIENT:$protocol,REPLICATION:$protocol,CONTROLLER:$protocol"
      --config=inter.broker.listener.name=REPLICATION)
  else
    args+=(--config="listeners=CONTROLLER://$(grpc_address "$id")"
      --config="listener.security.protocol.map=CONTROLLER:$protocol")
  fi
  local c
  for c in "${SERVER_CONFIGS[@]}"; do args+=(--config="$c"); done
  mkdir -p "$DIR/node-$id"
  echo "=== $(date -Is) local-cluster.sh: strand-server ${args[*]}" >>"$DIR/node-$id.log"
  nohup "$BIN_DIR/strand-server" "${args[@]}" </dev/null >>"$DIR/node-$id.log" 2>&1 &
  STARTED[$!]=1
  echo "$id $!" >>"$DIR/pids"
}

# --tls: certificates for every node (kept across runs; a missing one is issued by the same CA)
# and the CLI's settings.
make_certs() {
  local id missing=()
  for id in "${NODE_IDS[@]}"; do [[ -f $DIR/certs/node-$id.pem ]] || missing+=("$id"); done
  local clients=()
  [[ -f $DIR/certs/client-admin.pem ]] || clients=(--clients admin)
  if ((${#missing[@]} > 0 || ${#clients[@]} > 0)); then
    local nodes=()
    ((${#missing[@]} > 0)) && nodes=(--nodes "$(join_by_comma "${missing[@]}")")
    "$SCRIPT_DIR/make-certs.sh" --dir "$DIR/certs" --keep-ca "${nodes[@]}" "${clients[@]}" >/dev/null ||
      die "make-certs.sh could not make certificates in $DIR/certs"
  fi
  printf 'security.protocol=ssl\nssl.ca.location=%s\nssl.certificate.location=%s\nssl.key.location=%s\n' \
    "$DIR/certs/ca.pem" "$DIR/certs/client-admin.pem" "$DIR/certs/client-admin.pem" >"$DIR/client.properties"
}

print_log_tails() {
  local id
  for id in "${NODE_IDS[@]}"; do
    echo "--- last lines of $DIR/node-$id.log" >&2
    tail -n 20 "$DIR/node-$id.log" >&2 2>/dev/null || true
  done
}

fail_start() {
  echo "local-cluster.sh: $*" >&2
  print_log_tails
  stop_cluster 5 >&2
  exit 1
}

# The describe answer shows an active controller and every expected broker running.
cluster_ready() {
  local answer
  # This cluster's own TLS settings, never a STRAND_COMMAND_CONFIG from the caller's shell.
  local security=()
  ((TLS)) && security=(--command-config "$DIR/client.properties")
  if ! answer=$(env -u STRAND_COMMAND_CONFIG "$BIN_DIR/strand" --bootstrap "$(controller_addresses)" "${security[@]}" --timeout-ms 2000 \
    cluster describe --json 2>"$DIR/.probe.err"); then
    LAST_ANSWER=$(tail -n 3 "$DIR/.probe.err")
    return 1
  fi
  LAST_ANSWER=$answer
  python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
want = {int(i) for i in sys.argv[1:]}
running = {b.get("id") for b in d.get("brokers", []) if b.get("state") == "running"}
sys.exit(0 if d.get("active_controller", -1) >= 0 and want <= running else 1)
' "${NODE_IDS[@]:CONTROLLERS}" <<<"$answer"
}

wait_ready() {
  local deadline=$((SECONDS + TIMEOUT_S)) id pid
  LAST_ANSWER="(none)"
  while true; do
    while read -r id pid; do
      is_running "$pid" "$id" || fail_start "node $id (pid $pid) exited during start-up"
    done <"$DIR/pids"
    if cluster_ready; then
      rm -f "$DIR/.probe.err"
      return 0
    fi
    ((SECONDS < deadline)) || fail_start "the cluster did not serve within ${TIMEOUT_S}s; last answer: $LAST_ANSWER"
    sleep 0.5
  done
}

write_env() {
  local env=$DIR/cluster.env id pid bootstrap
  bootstrap=$(broker_addresses)
  [[ -n $bootstrap ]] || bootstrap=$(controller_addresses)
  {
    echo "# Strand local cluster in $DIR, written by local-cluster.sh up; source this file."
    echo "export STRAND_CLUSTER_DIR=$(printf '%q' "$DIR")"
    echo "export STRAND_BOOTSTRAP=$bootstrap"
    echo "export STRAND_CONTROLLERS=$(controller_addresses)"
    ((TLS)) && echo "export STRAND_COMMAND_CONFIG=$(printf '%q' "$DIR/client.properties")"
    while read -r id pid; do
      echo "export STRAND_NODE_${id}_ADDR=$(grpc_address "$id")"
      echo "export STRAND_NODE_${id}_PID=$pid"
      echo "export STRAND_NODE_${id}_METRICS=$(metrics_address "$id")"
      if ((id > CONTROLLERS_MAX)); then
        echo "export STRAND_NODE_${id}_REPLICATION_ADDR=$(replication_address "$id")"
        echo "export STRAND_NODE_${id}_CONTROLLER_ADDR=$(broker_controller_address "$id")"
      fi
    done <"$DIR/pids"
  } >"$env.tmp"
  mv "$env.tmp" "$env"
}

# Relative to the current directory when below it (for the hint printed to the user).
display_path() { if [[ $1 == "$PWD"/* ]]; then echo "${1#"$PWD"/}"; else echo "$1"; fi; }

# From here on a signal stops the cluster, then the script (exit 0).
FG_SLEEPER=""
on_foreground_signal() {
  trap - INT TERM HUP
  [[ -z $FG_SLEEPER ]] || kill "$FG_SLEEPER" 2>/dev/null || true
  echo
  stop_cluster "$GRACE_S"
  exit 0
}

# Watches the nodes (reporting each one that stops) until a signal arrives.
foreground_wait() {
  echo "Running in the foreground; Ctrl-C stops the cluster."
  local -A reported=()
  local id pid
  while true; do
    while read -r id pid; do
      if [[ -z ${reported[$id]:-} ]] && ! is_running "$pid" "$id"; then
        echo "local-cluster.sh: node $id (pid $pid) is not running; see $DIR/node-$id.log" >&2
        reported[$id]=1
      fi
    done <"$DIR/pids"
    # A background sleep, so that `wait` returns as soon as a signal arrives.
    sleep 1 &
    FG_SLEEPER=$!
    wait "$FG_SLEEPER" || true
  done
}

cmd_up() {
  check_up_args
  local binary
  for binary in strand-server strand; do
    [[ -x $BIN_DIR/$binary ]] || die "$BIN_DIR/$binary not found; build it (make build) or point STRAND_BIN_DIR at it"
  done
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)  # absolute and physical: down finds the nodes by this path
  node_ids
  refuse_running_cluster
  refuse_taken_ports
  ((TLS)) && make_certs
  trap 'trap - INT TERM HUP; stop_cluster 5 >&2; exit 130' INT TERM HUP
  local quorum=() i
  for ((i = 1; i <= CONTROLLERS; i++)); do quorum+=("$i@$(grpc_address "$i")"); done
  for ((i = 1; i <= CONTROLLERS; i++)); do start_node "$i" controller "$i" "$(join_by_comma "${quorum[@]}")"; done
  for ((i = 1; i <= BROKERS; i++)); do start_node "$((100 + i))" broker "$i" "$(join_by_comma "${quorum[@]}")"; done
  wait_ready
  write_env
  if ((FOREGROUND)); then trap on_foreground_signal INT TERM HUP; else trap - INT TERM HUP; fi
  echo "Strand cluster up: $CONTROLLERS controller(s), $BROKERS broker(s), data and logs in $DIR"
  cat "$DIR/cluster.env"
  echo "Try: source $(display_path "$DIR")/cluster.env; $(display_path "$BIN_DIR")/strand cluster describe"
  echo "Stop: $0 down --dir $(display_path "$DIR")"
  if ((FOREGROUND)); then foreground_wait; fi
}

cmd_down() {
  check_down_args
  in_range "$GRACE_S" 1 3600 || die_usage "--grace must be 1..3600 seconds"
  [[ -d $DIR ]] || die "no such directory: $DIR"
  DIR=$(cd "$DIR" && pwd -P)
  stop_cluster "$GRACE_S"
}

case $COMMAND in
  -h | --help | help) usage; exit 0 ;;
  up) parse_args "$@"; cmd_up ;;
  down) parse_args "$@"; cmd_down ;;
  "") die_usage "missing command: up or down" ;;
  *) die_usage "unknown command '$COMMAND' (up or down)" ;;
esac

#!/usr/bin/env bash
# local-cluster.sh: run a Strand cluster of strand-server processes on 127.0.0.1 (with --netns,
# each in a network namespace of its own).
#
#   scripts/local-cluster.sh up --controllers N --brokers B --dir DIR --base-port PORT
#       [--foreground] [--tls] [--netns] [--fault-injection] [--timeout SECONDS] [--log-level LEVEL]
#       [--config KEY=VALUE ...]
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
#   --netns (root only; needs ip, nft and flock, which scripts/install-deps.sh installs): every node
#   runs in a network namespace of its own, started as `ip netns exec NAMESPACE strand-server ...`
#   (the PID recorded is strand-server's), with lo up and eth0, one end of a veth pair whose other
#   end is on a bridge in the root namespace. A node's listeners and /metrics bind its own address
#   SUBNET.slot (the ports below), SUBNET being 10.213.K of a /24; the bridge holds SUBNET.254, so
#   the root namespace (the CLI, tests, drills) reaches every node, and nftables rules inside one
#   node's namespace cut or thin that node's links alone. K is the one DIR/netns recorded, else
#   derived from DIR's path; while a route of the root namespace overlaps 10.213.K.0/24 (another
#   cluster's bridge, say) the next K is taken. Names carry KEY, the first 6 hex digits of the
#   SHA-256 of DIR's absolute path: namespace strand-KEY-ID, host-side veth stv-KEY-ID, bridge
#   stbr-KEY (at most 14 characters). Ports are not checked (each namespace is new). What a crashed
#   run left (the namespaces, veths and bridge DIR/netns names) is removed first, unless a process
#   still runs in one of those namespaces: then up refuses. A name in use that DIR/netns does not
#   record is refused too. With --tls, each node's certificate also names its address (an IP subject
#   alternative name); one that does not, from an earlier run, is issued again. A drill that cuts a
#   link with nft: docs/operations.md, "Network namespaces".
#   --fault-injection: brokers run with --enable-fault-injection (FaultInjectionService on their
#   REPLICATION listener, and DIR/node-ID/fault-synced-lengths, the power-loss journal): what the
#   disk drills need (docs/drills.md). Tests and drills only, never production.
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
#   netns        with --netns, the network layout: a "bridge NAME ADDRESS/24" line, then one
#                "ID NAMESPACE ADDRESS VETH" line per node (VETH: the host-side end); written by
#                up before it makes any of them, kept by down so that the next up reuses the subnet
#   cluster.env  shell variables, for `source DIR/cluster.env` (written once the cluster serves,
#                removed by down): STRAND_BOOTSTRAP (broker addresses, or the controllers' when
#                B=0), STRAND_CONTROLLERS, STRAND_CLUSTER_DIR, and per node
#                STRAND_NODE_<id>_ADDR, STRAND_NODE_<id>_PID, STRAND_NODE_<id>_METRICS, and for
#                brokers STRAND_NODE_<id>_REPLICATION_ADDR and STRAND_NODE_<id>_CONTROLLER_ADDR;
#                with --tls, STRAND_COMMAND_CONFIG (the strand CLI's TLS settings). With --netns,
#                STRAND_NETNS=1 and per node STRAND_NODE_<id>_NETNS (its namespace) and
#                STRAND_NODE_<id>_IP (its address, the host of every address variable above).
#                With --fault-injection, STRAND_FAULT_INJECTION=1.
#
# down: SIGTERM to every broker in DIR/pids, then to every controller (brokers' controlled
#   shutdown needs the controllers), each phase waiting up to --grace seconds (default 10) before
#   SIGKILLing the rest; removes DIR/pids and DIR/cluster.env; data and logs stay. Only the PIDs in DIR/pids
#   are signalled, and only while they still run that node (a strand-server whose command line
#   has --data-dir=DIR/node-ID), so a reused PID or another cluster's node is never touched.
#   Then, when DIR/netns exists, it deletes every veth, the bridge and every namespace named there
#   that still exists (with the nftables tables a drill added inside), also when nodes had died
#   or no DIR/pids is left; a process other than a node still inside a namespace is named, not
#   killed (its namespace lives on, nameless and unreachable, until it exits).
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
# node_host ID: the address node ID binds: 127.0.0.1, or with --netns its own in the subnet.
node_host() { if ((NETNS)); then echo "$NETNS_PREFIX.$(slot_of "$1")"; else echo "$HOST"; fi; }
grpc_address() { echo "$(node_host "$1"):$((BASE_PORT + $(slot_of "$1")))"; }
metrics_address() { echo "$(node_host "$1"):$((BASE_PORT + 100 + $(slot_of "$1")))"; }
replication_address() { echo "$(node_host "$1"):$((BASE_PORT + 200 + $(slot_of "$1")))"; }
broker_controller_address() { echo "$(node_host "$1"):$((BASE_PORT + 300 + $(slot_of "$1")))"; }

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
NETNS=0 FAULT_INJECTION=0
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
      --netns) NETNS=1 UP_ONLY+=("$opt"); shift; continue ;;
      --fault-injection) FAULT_INJECTION=1 UP_ONLY+=("$opt"); shift; continue ;;
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
    netns_teardown
    return
  fi
  stop_nodes "$grace_s" brokers
  stop_nodes "$grace_s" controllers
  rm -f "$DIR/pids" "$DIR/cluster.env"
  echo "local-cluster.sh: stopped the cluster in $DIR (data and logs kept)"
  netns_teardown
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

# -------------------------------------------------------------------------------------- --netns
# Every node in a network namespace of its own, so that nftables rules inside one namespace cut
# or thin that node's links alone: per-node loopback addresses cannot, since every loopback
# connection leaves from 127.0.0.1. The layout is written to DIR/netns before anything is made,
# so that down, a failed up and the next up know what to remove.
readonly NETNS_NET=10.213  # the cluster's subnet is NETNS_NET.K.0/24
readonly NETNS_BRIDGE_OCTET=254
NETNS_PREFIX=""  # NETNS_NET.K once chosen
NETNS_BRIDGE=""
declare -A NETNS_NAME=() NETNS_VETH=()

# Names are a kernel's interface names (at most 15 characters) and ip's namespace names.
valid_link_name() { [[ $1 =~ ^[A-Za-z0-9_.-]{1,15}$ ]]; }
valid_netns_name() { [[ $1 =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; }
netns_exists() {
  local name rest
  while read -r name rest; do [[ $name != "$1" ]] || return 0; done < <(ip netns list 2>/dev/null)
  return 1
}
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

# netns_read_layout: what DIR/netns records, into LAYOUT_BRIDGE, LAYOUT_PREFIX (NETNS_NET.K, or
# empty), LAYOUT_NAMESPACES and LAYOUT_VETHS. Lines that do not parse are skipped.
LAYOUT_BRIDGE="" LAYOUT_PREFIX="" LAYOUT_NAMESPACES=() LAYOUT_VETHS=()
netns_read_layout() {
  LAYOUT_BRIDGE="" LAYOUT_PREFIX="" LAYOUT_NAMESPACES=() LAYOUT_VETHS=()
  [[ -f $DIR/netns ]] || return 0
  local first second third fourth
  while read -r first second third fourth; do
    if [[ $first == bridge ]]; then
      if valid_link_name "$second"; then LAYOUT_BRIDGE=$second; fi
      if [[ $third =~ ^(${NETNS_NET//./\\.}\.[0-9]{1,3})\.$NETNS_BRIDGE_OCTET/24$ ]]; then
        LAYOUT_PREFIX=${BASH_REMATCH[1]}
      fi
    elif [[ $first =~ ^[0-9]+$ ]]; then
      if valid_netns_name "$second"; then LAYOUT_NAMESPACES+=("$second"); fi
      if valid_link_name "$fourth"; then LAYOUT_VETHS+=("$fourth"); fi
    fi
  done <"$DIR/netns"
  return 0
}

# netns_teardown: deletes what DIR/netns records and still exists: each veth (both ends go), the
# bridge, each namespace (the nftables tables inside go with it). A process still inside a
# namespace keeps it alive, nameless, until it exits: it is named, not killed (it is no node of
# DIR/pids, or down would have stopped it). Returns 1 when something could not be deleted.
netns_teardown() {
  [[ -f $DIR/netns ]] || return 0
  netns_read_layout
  local link ns pids removed=0 failed=0 err
  for link in "${LAYOUT_VETHS[@]}" $LAYOUT_BRIDGE; do
    link_exists "$link" || continue
    if err=$(ip link del dev "$link" 2>&1); then removed=1; else
      echo "local-cluster.sh: cannot delete interface $link: $err" >&2
      failed=1
    fi
  done
  for ns in "${LAYOUT_NAMESPACES[@]}"; do
    netns_exists "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [[ -z ${pids// /} ]] ||
      echo "local-cluster.sh: process(es) ${pids% } still in network namespace $ns; it lives on until they exit" >&2
    if err=$(ip netns del "$ns" 2>&1); then removed=1; else
      echo "local-cluster.sh: cannot delete network namespace $ns: $err" >&2
      failed=1
    fi
  done
  ((!removed)) ||
    echo "local-cluster.sh: removed the network namespaces, veths and bridge $LAYOUT_BRIDGE of $DIR/netns"
  ((!failed)) || { ((EUID == 0)) || echo "local-cluster.sh: removing them needs root" >&2; return 1; }
}

check_netns_host() {
  ((EUID == 0)) || die "--netns needs root (it makes network namespaces, veth pairs and a bridge)"
  local tool package
  for tool in ip:iproute2 nft:nftables flock:util-linux; do
    package=${tool#*:} tool=${tool%%:*}
    command -v "$tool" >/dev/null ||
      die "--netns needs $tool (Debian package $package; scripts/install-deps.sh installs it)"
  done
  ip netns list >/dev/null 2>&1 || die "--netns: 'ip netns list' fails; are network namespaces available?"
}

# netns_free_subnet K...: prints the first K whose NETNS_NET.K.0/24 overlaps no route of the root
# namespace (any table: interface addresses have local routes), i.e. no other cluster's bridge.
netns_free_subnet() {
  ip -j -4 route show table all | python3 -c '
import ipaddress, json, sys
taken = []
for route in json.load(sys.stdin):
    dst = route.get("dst", "default")
    if dst == "default":
        continue
    try:
        taken.append(ipaddress.ip_network(dst, strict=False))
    except ValueError:
        pass
for k in sys.argv[2:]:
    net = ipaddress.ip_network("%s.%s.0/24" % (sys.argv[1], k))
    if not any(net.overlaps(t) for t in taken):
        print(k)
        break
' "$NETNS_NET" "$@"
}

# netns_plan: removes a crashed run's leftovers, then chooses names and the subnet (see the
# header) and writes DIR/netns.
netns_plan() {
  netns_read_layout
  local ns pids
  for ns in "${LAYOUT_NAMESPACES[@]}"; do
    netns_exists "$ns" || continue
    pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [[ -z ${pids// /} ]] ||
      die "network namespace $ns (an earlier run's, in $DIR/netns) still holds process(es) ${pids% }; stop them, then run up again"
  done
  netns_teardown >&2 || die "cannot remove what an earlier run left (see $DIR/netns)"
  local key id
  key=$(printf '%s' "$DIR" | sha256sum | cut -c1-6)
  NETNS_BRIDGE=stbr-$key
  for id in "${NODE_IDS[@]}"; do
    NETNS_NAME[$id]=strand-$key-$id NETNS_VETH[$id]=stv-$key-$id
  done
  for id in "${NODE_IDS[@]}"; do
    ! netns_exists "${NETNS_NAME[$id]}" ||
      die "network namespace ${NETNS_NAME[$id]} exists but $DIR/netns does not name it; delete it (ip netns del ${NETNS_NAME[$id]}) or use another --dir"
    ! link_exists "${NETNS_VETH[$id]}" ||
      die "interface ${NETNS_VETH[$id]} exists but $DIR/netns does not name it; delete it (ip link del ${NETNS_VETH[$id]}) or use another --dir"
  done
  ! link_exists "$NETNS_BRIDGE" ||
    die "interface $NETNS_BRIDGE exists but $DIR/netns does not name it; delete it (ip link del $NETNS_BRIDGE) or use another --dir"
  local candidates=() first k
  if [[ -n $LAYOUT_PREFIX ]] && ((10#${LAYOUT_PREFIX##*.} <= 255)); then
    candidates+=("$((10#${LAYOUT_PREFIX##*.}))")
  fi
  first=$((16#${key:0:2}))
  for ((k = 0; k < 256; k++)); do candidates+=("$(((first + k) % 256))"); done
  k=$(netns_free_subnet "${candidates[@]}")
  [[ -n $k ]] || die "no free subnet $NETNS_NET.K.0/24 in the root namespace's routes"
  [[ -z $LAYOUT_PREFIX || $LAYOUT_PREFIX == "$NETNS_NET.$k" ]] ||
    echo "local-cluster.sh: $LAYOUT_PREFIX.0/24 is taken now; this cluster moves to $NETNS_NET.$k.0/24" >&2
  NETNS_PREFIX=$NETNS_NET.$k
  {
    echo "# local-cluster.sh up --netns: this cluster's network namespaces. \"bridge NAME ADDRESS\","
    echo "# then \"ID NAMESPACE ADDRESS VETH\" per node; down removes them, the next up reuses the subnet."
    echo "bridge $NETNS_BRIDGE $NETNS_PREFIX.$NETNS_BRIDGE_OCTET/24"
    for id in "${NODE_IDS[@]}"; do
      echo "$id ${NETNS_NAME[$id]} $(node_host "$id") ${NETNS_VETH[$id]}"
    done
  } >"$DIR/netns.tmp"
  mv "$DIR/netns.tmp" "$DIR/netns"
}

# Two ups at once could both find the same subnet free and both take it: from choosing the subnet
# to making the bridge, an up holds this lock (released before any node starts, so that no
# strand-server inherits it).
readonly NETNS_LOCK=/run/lock/strand-local-cluster-netns.lock
NETNS_LOCK_FD=""
netns_lock() {
  exec {NETNS_LOCK_FD}>>"$NETNS_LOCK" || die "--netns: cannot open the lock file $NETNS_LOCK"
  flock -w 60 "$NETNS_LOCK_FD" || die "--netns: another up held $NETNS_LOCK for 60 s"
}
netns_unlock() { exec {NETNS_LOCK_FD}>&-; }

# must_ip ARGS...: runs ip ARGS, or fails naming the command and its error.
must_ip() {
  local err
  err=$(ip "$@" 2>&1) || die "ip $* failed: $err"
}

# netns_create: the bridge with its address, then per node a namespace with lo up and eth0 (the
# namespace's end of a veth pair whose other end is a bridge port) holding the node's address.
netns_create() {
  must_ip link add "$NETNS_BRIDGE" type bridge
  must_ip addr add "$NETNS_PREFIX.$NETNS_BRIDGE_OCTET/24" dev "$NETNS_BRIDGE"
  must_ip link set "$NETNS_BRIDGE" up
  local id ns
  for id in "${NODE_IDS[@]}"; do
    ns=${NETNS_NAME[$id]}
    must_ip netns add "$ns"
    must_ip link add "${NETNS_VETH[$id]}" type veth peer name eth0 netns "$ns"
    must_ip link set "${NETNS_VETH[$id]}" master "$NETNS_BRIDGE" up
    must_ip -n "$ns" link set lo up
    must_ip -n "$ns" addr add "$(node_host "$id")/24" dev eth0
    must_ip -n "$ns" link set eth0 up
  done
}

# A failed or interrupted up removes what netns_create made (EXIT trap while up runs).
on_netns_up_exit() {
  local code=$?
  ((code == 0)) && return
  if [[ -f $DIR/pids ]]; then stop_cluster 5 >&2 || true; else netns_teardown >&2 || true; fi
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
    ((FAULT_INJECTION)) && args+=(--enable-fault-injection)
  else
    args+=(--config="listeners=CONTROLLER://$(grpc_address "$id")"
      --config="listener.security.protocol.map=CONTROLLER:$protocol")
  fi
  local c
  for c in "${SERVER_CONFIGS[@]}"; do args+=(--config="$c"); done
  mkdir -p "$DIR/node-$id"
  # ip netns exec execs strand-server in the same process: $! is strand-server's PID.
  local launcher=()
  ((NETNS)) && launcher=(ip netns exec "${NETNS_NAME[$id]}")
  echo "=== $(date -Is) local-cluster.sh: ${launcher[*]}${launcher[*]:+ }strand-server ${args[*]}" >>"$DIR/node-$id.log"
  nohup "${launcher[@]}" "$BIN_DIR/strand-server" "${args[@]}" </dev/null >>"$DIR/node-$id.log" 2>&1 &
  STARTED[$!]=1
  echo "$id $!" >>"$DIR/pids"
}

# cert_names_ip PEM ADDRESS: the certificate in PEM names ADDRESS as an IP subject alternative name.
cert_names_ip() {
  local names
  names=$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null) || return 1
  [[ ,$(tr -d ' \n' <<<"$names"), == *",IPAddress:$2,"* ]]
}

# --tls: certificates for every node (kept across runs; a missing one is issued by the same CA)
# and the CLI's settings. With --netns a node's certificate must also name its address, which
# differs per node: one make-certs.sh run per node, as --hosts goes into every certificate of a run.
make_certs() {
  local id missing=()
  for id in "${NODE_IDS[@]}"; do
    if [[ ! -f $DIR/certs/node-$id.pem ]] ||
      { ((NETNS)) && ! cert_names_ip "$DIR/certs/node-$id.pem" "$(node_host "$id")"; }; then
      missing+=("$id")
    fi
  done
  local clients=()
  [[ -f $DIR/certs/client-admin.pem ]] || clients=(--clients admin)
  if ((NETNS)); then
    if ((${#clients[@]} > 0)); then
      "$SCRIPT_DIR/make-certs.sh" --dir "$DIR/certs" --keep-ca "${clients[@]}" >/dev/null ||
        die "make-certs.sh could not make certificates in $DIR/certs"
    fi
    for id in "${missing[@]}"; do
      "$SCRIPT_DIR/make-certs.sh" --dir "$DIR/certs" --keep-ca --nodes "$id" --hosts "$(node_host "$id")" \
        >/dev/null || die "make-certs.sh could not make node $id's certificate in $DIR/certs"
    done
  elif ((${#missing[@]} > 0 || ${#clients[@]} > 0)); then
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
    ((NETNS)) && echo "export STRAND_NETNS=1"
    ((FAULT_INJECTION)) && echo "export STRAND_FAULT_INJECTION=1"
    while read -r id pid; do
      echo "export STRAND_NODE_${id}_ADDR=$(grpc_address "$id")"
      echo "export STRAND_NODE_${id}_PID=$pid"
      echo "export STRAND_NODE_${id}_METRICS=$(metrics_address "$id")"
      if ((id > CONTROLLERS_MAX)); then
        echo "export STRAND_NODE_${id}_REPLICATION_ADDR=$(replication_address "$id")"
        echo "export STRAND_NODE_${id}_CONTROLLER_ADDR=$(broker_controller_address "$id")"
      fi
      if ((NETNS)); then
        echo "export STRAND_NODE_${id}_NETNS=${NETNS_NAME[$id]}"
        echo "export STRAND_NODE_${id}_IP=$(node_host "$id")"
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
  ((NETNS)) && check_netns_host
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)  # absolute and physical: down finds the nodes by this path
  node_ids
  refuse_running_cluster
  # With --netns every node has a new namespace of its own: its ports are free.
  if ((NETNS)); then
    netns_lock
    netns_plan
  else
    refuse_taken_ports
  fi
  ((TLS)) && make_certs
  trap 'trap - INT TERM HUP; stop_cluster 5 >&2; exit 130' INT TERM HUP
  if ((NETNS)); then
    trap on_netns_up_exit EXIT
    netns_create
    netns_unlock
  fi
  local quorum=() i
  for ((i = 1; i <= CONTROLLERS; i++)); do quorum+=("$i@$(grpc_address "$i")"); done
  for ((i = 1; i <= CONTROLLERS; i++)); do start_node "$i" controller "$i" "$(join_by_comma "${quorum[@]}")"; done
  for ((i = 1; i <= BROKERS; i++)); do start_node "$((100 + i))" broker "$i" "$(join_by_comma "${quorum[@]}")"; done
  wait_ready
  write_env
  ((NETNS)) && trap - EXIT
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

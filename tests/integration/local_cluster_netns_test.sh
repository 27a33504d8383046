#!/usr/bin/env bash
# Tests scripts/local-cluster.sh up --netns with the real strand-server and strand: 3 controllers
# and 3 brokers, each in a network namespace of its own behind a bridge. Checks DIR/netns and
# cluster.env; that the CLI in the root namespace describes the cluster, produces and consumes
# through the bridge; that each node's process is in its namespace and listens only on its own
# address. Then the drill: an nftables table in one broker's namespace drops its traffic to and
# from the controllers; the drop rule's counter must count packets and the controllers must
# report the broker fenced, while its client listener still answers; with the table deleted it
# must be running again. Last, `down` must leave no namespace, veth, bridge or process.
# Needs root, ip and nft (exit 77, skipped, without them). Every wait is bounded; the EXIT trap
# runs down and then force-deletes what DIR/netns names and kills the nodes this test started.
#
#   tests/integration/local_cluster_netns_test.sh path/to/local-cluster.sh path/to/bin
set -euo pipefail

SCRIPT=${1:?usage: $0 path/to/local-cluster.sh path/to/bin}
BIN=${2:?usage: $0 path/to/local-cluster.sh path/to/bin}
readonly BASE_PORT=27000  # in the nodes' own namespaces; other tests use 22200-26999
readonly CUT_BROKER=102
readonly FENCE_WAIT_S=20 RECOVER_WAIT_S=40
WORK=""
DIR=""
NODE_PIDS=()  # strand-server PIDs of this test's cluster
FAILURES=0

if ((EUID != 0)); then echo "SKIP: needs root (network namespaces)"; exit 77; fi
for tool in ip nft ss; do
  command -v "$tool" >/dev/null || { echo "SKIP: needs $tool (scripts/install-deps.sh)"; exit 77; }
done
for binary in strand-server strand; do
  [[ -x $BIN/$binary ]] || { echo "FAIL: $BIN/$binary not found" >&2; exit 1; }
done

# is_our_node PID: PID still runs a strand-server of this test's cluster.
is_our_node() {
  local cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
  [[ $cmdline == *strand-server* && $cmdline == *" --data-dir=$DIR/node-"* ]]
}

cleanup() {
  local code=$? pid first second fourth
  set +e
  if [[ -n $DIR && -f $DIR/pids ]]; then
    timeout 60 "$SCRIPT" down --dir "$DIR" --grace 5 >"$WORK/cleanup-down.out" 2>&1
  fi
  for pid in "${NODE_PIDS[@]}"; do is_our_node "$pid" && kill -KILL "$pid" 2>/dev/null; done
  if [[ -n $DIR && -f $DIR/netns ]]; then
    while read -r first second _ fourth; do
      if [[ $first == bridge ]]; then
        ip link del dev "$second" 2>/dev/null
      elif [[ $first =~ ^[0-9]+$ ]]; then
        ip link del dev "$fourth" 2>/dev/null
        ip netns del "$second" 2>/dev/null
      fi
    done <"$DIR/netns"
  fi
  if ((code != 0)) && [[ -n $DIR ]]; then
    echo "--- node logs (last lines)" >&2
    tail -n 15 "$DIR"/node-*.log >&2 2>/dev/null
  fi
  [[ -z $WORK ]] || rm -rf "$WORK"
  exit "$code"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# die MESSAGE: a check the rest of the test depends on failed.
die() {
  echo "FAIL: $*" >&2
  exit 1
}

# strand ARGS...: the CLI with this cluster's settings only, never a caller's
# STRAND_COMMAND_CONFIG.
strand() { env -u STRAND_COMMAND_CONFIG "$BIN/strand" "$@"; }

# broker_states BOOTSTRAP: "ID=STATE" per broker, from cluster describe --json.
broker_states() {
  strand --bootstrap "$1" --timeout-ms 5000 cluster describe --json 2>/dev/null |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s=%s" % (b["id"], b["state"]) for b in sorted(d.get("brokers", []), key=lambda b: b["id"])))'
}

# wait_state BOOTSTRAP SECONDS ID STATE: polls until broker ID is in STATE; prints the seconds taken.
wait_state() {
  local bootstrap=$1 seconds=$2 id=$3 state=$4 start=$SECONDS states=""
  while ((SECONDS - start < seconds)); do
    states=$(broker_states "$bootstrap" || true)
    if [[ " $states " == *" $id=$state "* ]]; then
      echo "$((SECONDS - start))"
      return 0
    fi
    sleep 0.5
  done
  echo "last answer: ${states:-none}" >&2
  return 1
}

# node_ids: the ids in DIR/pids.
node_ids() { awk '{print $1}' "$DIR/pids"; }
env_of() { local name=STRAND_NODE_$1_$2; echo "${!name:-}"; }
host_of() { echo "${1%:*}"; }

check_layout() {
  local bridge_line node_lines
  bridge_line=$(grep '^bridge ' "$DIR/netns") || die "DIR/netns has no bridge line"
  [[ $bridge_line =~ ^bridge\ (stbr-[0-9a-f]{6})\ (10\.213\.[0-9]{1,3})\.254/24$ ]] ||
    die "bridge line '$bridge_line'"
  BRIDGE=${BASH_REMATCH[1]} PREFIX=${BASH_REMATCH[2]}
  local key=${BRIDGE#stbr-}
  node_lines=$(grep -c '^[0-9]' "$DIR/netns")
  ((node_lines == 6)) || fail "DIR/netns has $node_lines node lines, expected 6"
  local id ns addr veth slot
  NAMESPACES=() VETHS=()
  while read -r id ns addr veth; do
    slot=$id
    ((id > 9)) && slot=$((id - 90))
    [[ $ns == "strand-$key-$id" && $addr == "$PREFIX.$slot" && $veth == "stv-$key-$id" ]] ||
      fail "DIR/netns line '$id $ns $addr $veth'"
    ((${#veth} <= 15)) || fail "veth name $veth is longer than 15 characters"
    NAMESPACES+=("$ns") VETHS+=("$veth")
    ip netns list | grep -q "^$ns\b" || fail "namespace $ns does not exist"
    [[ $(env_of "$id" NETNS) == "$ns" ]] || fail "cluster.env: node $id NETNS $(env_of "$id" NETNS)"
    [[ $(env_of "$id" IP) == "$addr" ]] || fail "cluster.env: node $id IP $(env_of "$id" IP)"
    [[ $(host_of "$(env_of "$id" ADDR)") == "$addr" ]] || fail "cluster.env: node $id ADDR"
    [[ $(host_of "$(env_of "$id" METRICS)") == "$addr" ]] || fail "cluster.env: node $id METRICS"
    if ((id > 100)); then
      [[ $(host_of "$(env_of "$id" REPLICATION_ADDR)") == "$addr" ]] || fail "node $id REPLICATION_ADDR"
      [[ $(host_of "$(env_of "$id" CONTROLLER_ADDR)") == "$addr" ]] || fail "node $id CONTROLLER_ADDR"
    fi
  done < <(grep '^[0-9]' "$DIR/netns")
  ((${#BRIDGE} <= 15)) || fail "bridge name $BRIDGE is longer than 15 characters"
  ip link show dev "$BRIDGE" | grep -q "state UP" || fail "bridge $BRIDGE is not up"
  [[ ${STRAND_NETNS:-} == 1 ]] || fail "cluster.env: STRAND_NETNS=${STRAND_NETNS:-}"
  [[ $STRAND_BOOTSTRAP == "$PREFIX.11:$((BASE_PORT + 11)),$PREFIX.12:$((BASE_PORT + 12)),$PREFIX.13:$((BASE_PORT + 13))" ]] ||
    fail "cluster.env: STRAND_BOOTSTRAP=$STRAND_BOOTSTRAP"
  [[ $STRAND_CONTROLLERS == "$PREFIX.1:$((BASE_PORT + 1)),$PREFIX.2:$((BASE_PORT + 2)),$PREFIX.3:$((BASE_PORT + 3))" ]] ||
    fail "cluster.env: STRAND_CONTROLLERS=$STRAND_CONTROLLERS"
  echo "ok: DIR/netns and cluster.env (bridge $BRIDGE, subnet $PREFIX.0/24)"
}

# Each node is strand-server itself (the PID the script recorded), inside its own namespace,
# listening on its own address only: the ports of its listeners and /metrics, nothing else.
check_processes() {
  local id pid ns want got
  for id in $(node_ids); do
    pid=$(env_of "$id" PID) ns=$(env_of "$id" NETNS)
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == strand-server ]] || fail "node $id: pid $pid is not strand-server"
    [[ $(ip netns identify "$pid") == "$ns" ]] || fail "node $id: pid $pid is in '$(ip netns identify "$pid")', not $ns"
    want=$(for var in ADDR METRICS REPLICATION_ADDR CONTROLLER_ADDR; do
      value=$(env_of "$id" "$var")
      [[ -z $value ]] || echo "$value"
    done | sort | tr '\n' ' ')
    # ss prints an IPv4 address bound through an IPv6 socket as [::ffff:A.B.C.D].
    got=$(ip netns exec "$ns" ss -Htln | awk '{print $4}' | sed -E 's/^\[::ffff:([0-9.]+)\]/\1/' |
      sort | tr '\n' ' ')
    [[ $got == "$want" ]] || fail "node $id listens on '$got', expected '$want'"
  done
  echo "ok: every node is strand-server in its own namespace, listening on its own address only"
}

check_data_path() {
  strand --timeout-ms 30000 topics create netns-test --partitions 3 --replication-factor 3 >/dev/null ||
    die "topics create failed"
  seq 1 20 | sed 's/^/record-/' | strand --timeout-ms 30000 produce --topic netns-test --acks all ||
    die "produce failed"
  local got
  got=$(strand consume --topic netns-test --from-beginning --max-records 20 --idle-timeout-ms 30000 \
    2>"$WORK/consume.err" | sort | tr '\n' ' ') || true
  [[ $got == "$(seq 1 20 | sed 's/^/record-/' | sort | tr '\n' ' ')" ]] || fail "consumed '$got'"
  # /metrics through the bridge too.
  python3 -c 'import sys, urllib.request; urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=5).read()' \
    "$STRAND_NODE_101_METRICS" || fail "broker 101's /metrics unreachable from the root namespace"
  echo "ok: produce and consume 20 records through the bridge"
}

# drop_counters NAMESPACE: "OUTPUT INPUT" packet counts of the strand_drill table's drop rules.
drop_counters() {
  ip netns exec "$1" nft -j list table inet strand_drill | python3 -c '
import json, sys
counts = {}
for item in json.load(sys.stdin)["nftables"]:
    rule = item.get("rule")
    if rule:
        for expr in rule["expr"]:
            if "counter" in expr:
                counts[rule["chain"]] = expr["counter"]["packets"]
print(counts.get("output", 0), counts.get("input", 0))'
}

check_cut_and_restore() {
  local ns controllers taken
  ns=$(env_of "$CUT_BROKER" NETNS)
  controllers="$STRAND_NODE_1_IP, $STRAND_NODE_2_IP, $STRAND_NODE_3_IP"
  # The drill: one table, both directions, a counter on each drop rule. Traffic with the other
  # brokers and the root namespace (clients) is untouched.
  ip netns exec "$ns" nft -f - <<EOF || die "nft could not add the drill table in $ns"
table inet strand_drill {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr { $controllers } counter drop
  }
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr { $controllers } counter drop
  }
}
EOF
  # Asked through the controllers: the cut broker would forward admin calls it cannot deliver.
  if taken=$(wait_state "$STRAND_CONTROLLERS" "$FENCE_WAIT_S" "$CUT_BROKER" fenced); then
    echo "ok: broker $CUT_BROKER cut from the controllers is fenced after ${taken}s"
  else
    fail "broker $CUT_BROKER not fenced within ${FENCE_WAIT_S}s of the cut"
  fi
  local output input
  read -r output input < <(drop_counters "$ns")
  ((output > 0)) || fail "the output drop rule counted no packets"
  echo "ok: the drop rules counted $output packets out, $input in"
  local others
  others=$(broker_states "$STRAND_CONTROLLERS")
  [[ $others == *"101=running"* && $others == *"103=running"* ]] || fail "other brokers: $others"
  python3 -c 'import socket, sys; h, p = sys.argv[1].rsplit(":", 1); socket.create_connection((h, int(p)), 3)' \
    "$(env_of "$CUT_BROKER" ADDR)" || fail "the cut broker's client listener is unreachable from the root namespace"

  ip netns exec "$ns" nft delete table inet strand_drill || die "nft could not delete the drill table"
  if taken=$(wait_state "$STRAND_CONTROLLERS" "$RECOVER_WAIT_S" "$CUT_BROKER" running); then
    echo "ok: broker $CUT_BROKER running again ${taken}s after the table was deleted"
  else
    fail "broker $CUT_BROKER not running within ${RECOVER_WAIT_S}s of the restore"
  fi
}

check_down() {
  local out
  out=$(timeout 90 "$SCRIPT" down --dir "$DIR" --grace 10 2>&1) || fail "down failed: $out"
  local pid ns veth
  for pid in "${NODE_PIDS[@]}"; do
    [[ -e /proc/$pid ]] && is_our_node "$pid" && fail "pid $pid survived down"
  done
  for ns in "${NAMESPACES[@]}"; do
    ip netns list | grep -q "^$ns\b" && fail "namespace $ns survived down"
  done
  for veth in "${VETHS[@]}" "$BRIDGE"; do
    ip link show dev "$veth" >/dev/null 2>&1 && fail "interface $veth survived down"
  done
  ip -o link show | grep -q "${BRIDGE#stbr-}" && fail "an interface named after the cluster survived down"
  [[ ! -e $DIR/pids && ! -e $DIR/cluster.env ]] || fail "down left pids or cluster.env"
  [[ -f $DIR/netns ]] || fail "down removed DIR/netns (the next up reuses its subnet)"
  echo "ok: down left no namespace, veth, bridge or process"
}

main() {
  WORK=$(mktemp -d /tmp/local-cluster-netns-test-XXXXXX)
  DIR=$WORK/cluster
  echo "work dir $WORK"
  local start=$SECONDS
  STRAND_BIN_DIR=$BIN timeout 150 "$SCRIPT" up --netns --controllers 3 --brokers 3 --dir "$DIR" \
    --base-port "$BASE_PORT" --timeout 120 >"$WORK/up.out" 2>&1 ||
    { cat "$WORK/up.out" >&2; die "up --netns failed"; }
  DIR=$(cd "$DIR" && pwd -P)
  mapfile -t NODE_PIDS < <(awk '{print $2}' "$DIR/pids")
  echo "ok: up --netns in $((SECONDS - start))s"
  # shellcheck disable=SC1091
  source "$DIR/cluster.env"
  local states
  states=$(broker_states "$STRAND_BOOTSTRAP")
  [[ $states == "101=running 102=running 103=running" ]] || die "describe through STRAND_BOOTSTRAP: '$states'"
  echo "ok: cluster describe shows 3 brokers running"
  check_layout
  check_processes
  check_data_path
  check_cut_and_restore
  check_down
  if ((FAILURES > 0)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed in $((SECONDS - start))s"
}

main

#!/usr/bin/env bash
# bench/lib.sh: shared by the benchmark scripts that drive a local cluster with `strand perf`
# (client-perf.sh, broker-produce.sh). Source it after setting NAME (the script's short name).
#
#   bench_init NAME       checks the binaries (exit 2), makes WORK (a temp dir), CLUSTER_DIR and
#                         RESULTS, and installs the cleanup trap (cluster down, WORK removed
#                         unless KEEP_WORK=1, BENCH_CHILD killed)
#   bench_cluster_up PORT [--tls]  3 controllers + 3 brokers on 127.0.0.1 from PORT+1 (mTLS on
#                         every listener with --tls); defines `strand`
#   create_topic T P      a topic with P partitions, RF 3, min.insync.replicas=2, and waits until
#                         a client sees a leader for every partition
#   run_nats DUR          NATS JetStream R3 via ../shared/bench/peers/nats.sh; sets NATS_LINE
#                         (empty with SKIP_NATS)
#   log MESSAGE           to stderr, prefixed with NAME

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${STRAND_BIN_DIR:-$REPO/build/bin}
PEERS_DIR=${PEERS_DIR:-$REPO/../shared/bench/peers}
BENCH_CHILD=""

log() { echo "[$BENCH_NAME] $*" >&2; }

bench_init() {
  BENCH_NAME=$1
  local b
  for b in strand strand-server; do
    [[ -x $BIN_DIR/$b ]] || { echo "$BENCH_NAME: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
  done
  WORK=$(mktemp -d "/tmp/strand-$BENCH_NAME.XXXXXX")
  CLUSTER_DIR=$WORK/cluster
  RESULTS=$WORK/results.jsonl
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local rc=$?
  set +e
  [[ -n $BENCH_CHILD ]] && kill "$BENCH_CHILD" 2>/dev/null
  [[ -f $CLUSTER_DIR/pids ]] && "$REPO/scripts/local-cluster.sh" down --dir "$CLUSTER_DIR" >&2
  if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}

bench_cluster_up() {
  log "starting 3 controllers + 3 brokers in $CLUSTER_DIR (base port $1) ${2:-}"
  unset STRAND_COMMAND_CONFIG  # set again by cluster.env for a --tls cluster
  STRAND_BIN_DIR=$BIN_DIR "$REPO/scripts/local-cluster.sh" up --controllers 3 --brokers 3 \
    --dir "$CLUSTER_DIR" --base-port "$1" --log-level warn ${2:-} >&2
  # shellcheck disable=SC1091
  source "$CLUSTER_DIR/cluster.env"
}

bench_cluster_down() { "$REPO/scripts/local-cluster.sh" down --dir "$CLUSTER_DIR" >&2; }

strand() { "$BIN_DIR/strand" --bootstrap "$STRAND_BOOTSTRAP" --timeout-ms 60000 "$@"; }

create_topic() {
  strand topics create "$1" --partitions "$2" --replication-factor 3 \
    --config min.insync.replicas=2 >&2
  local i
  for i in $(seq 1 100); do
    if strand topics describe "$1" --json 2>/dev/null |
      python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if all(p["leader"]>=0 for p in d["partitions"]) else 1)'; then
      return 0
    fi
    sleep 0.1
  done
  log "topic $1 has no leaders"
  return 1
}

run_nats() {
  NATS_LINE=""
  [[ -n ${SKIP_NATS:-} ]] && return 0
  local peers=$PEERS_DIR
  if [[ ! -d $peers/node_modules/nats ]]; then
    # The shared copy is read-only: install the pinned client (package-lock.json) in a copy.
    log "installing NATS's pinned Node.js client in a copy of $PEERS_DIR"
    cp -r "$PEERS_DIR" "$WORK/peers"
    chmod -R u+w "$WORK/peers"
    (cd "$WORK/peers" && npm ci --no-audit --no-fund >&2)
    peers=$WORK/peers
  fi
  log "NATS JetStream: $peers/nats.sh (DUR=$1)"
  NATS_LINE=$(DUR=$1 bash "$peers/nats.sh") || { log "nats.sh failed"; exit 1; }
  echo "$NATS_LINE"
}

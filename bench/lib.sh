#!/usr/bin/env bash
# bench/lib.sh: shared by the benchmark scripts that drive a local cluster with `strand perf`
# (client-perf.sh, broker-produce.sh). Source it after setting NAME (the script's short name).
#
#   bench_init NAME       checks the binaries (exit 2), makes WORK (a temp dir), CLUSTER_DIR and
#                         RESULTS, and installs the cleanup trap (cluster down, WORK removed
#                         unless KEEP_WORK=1, BENCH_CHILD killed)
#   bench_cluster_up PORT [--tls]  3 controllers + 3 brokers on 127.0.0.1 from PORT+1 (mTLS on
#                         every listener with --tls); defines `strand`
#   create_topic T P [R]  a topic with P partitions, RF 3, min.insync.replicas=2 (or R replicas,
#                         min.insync.replicas=1), and waits until a client sees a leader for
#                         every partition
#   cluster_cpu_ticks     utime+stime (clock ticks, /proc/PID/stat) summed over every node of
#                         the cluster (CLUSTER_DIR/pids); fails when a node is gone
#   run_nats DUR [sync]   NATS JetStream R3 via a patched copy of ../shared/bench/peers/nats.sh
#                         (nats_prepare); sets NATS_LINE (empty with SKIP_NATS). With sync: fsync
#                         on every write (nats_sync_setup); NATS_SYNC_LABEL says how, or why not
#                         (NATS_LINE empty then)
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
  nats_sync_umount
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
  local rf=${3:-3} min_isr=2
  [[ $rf == 3 ]] || min_isr=1
  strand topics create "$1" --partitions "$2" --replication-factor "$rf" \
    --config min.insync.replicas="$min_isr" >&2
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

cluster_cpu_ticks() {
  local id pid stat f total=0
  while read -r id pid; do
    [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == *strand-server*" --data-dir=$CLUSTER_DIR/node-$id "* ]] ||
      { log "node $id (pid $pid) is gone"; return 1; }
    stat=$(cat "/proc/$pid/stat") || return 1
    read -r -a f <<<"${stat##*) }"  # f[0] is field 3 (state): utime is field 14, stime 15
    total=$((total + f[11] + f[12]))
  done <"$CLUSTER_DIR/pids"
  echo "$total"
}

# nats_prepare: a writable copy of PEERS_DIR in WORK/peers with the pinned Node.js client
# installed, patched by bench/patch-nats-peers.py (store dir root, an extra jetstream {} line,
# CPU ticks of the servers over the async phase).
nats_prepare() {
  [[ -f $WORK/peers/.patched ]] && return 0
  rm -rf "$WORK/peers"
  cp -r "$PEERS_DIR" "$WORK/peers"
  chmod -R u+w "$WORK/peers"
  if [[ ! -d $WORK/peers/node_modules/nats ]]; then
    log "installing NATS's pinned Node.js client in $WORK/peers"
    (cd "$WORK/peers" && npm ci --no-audit --no-fund >&2)
  fi
  python3 "$REPO/bench/patch-nats-peers.py" "$WORK/peers"
  touch "$WORK/peers/.patched"
}

# nats_sync_setup: how `run_nats DUR sync` gets fsync on every write: NATS_SYNC_ENV (assignments
# for nats.sh) and NATS_SYNC_LABEL; fails (the label says why) when it cannot. nats-server >= 2.10
# takes `sync_interval: always` in jetstream {}. Older ones (Debian 12's 2.9.10) have no fsync
# setting: stream files fsync every 2 min and the raft log every 5 min, fixed in code. There the
# 3 store dirs go on an ext4 loop filesystem mounted -o sync (root only), where every write(2)
# returns once on disk. NATS_SYNC: auto (default), setting (the server setting or nothing), off.
nats_sync_setup() {
  NATS_SYNC_ENV=()
  local mode=${NATS_SYNC:-auto} ver err why conf=$WORK/nats-sync-probe.conf
  [[ $mode == off ]] && { NATS_SYNC_LABEL="not measured (NATS_SYNC=off)"; return 1; }
  ver=$(nats-server --version | awk '{print $2}')
  printf 'jetstream {\n  store_dir: "%s"\n  sync_interval: always\n}\n' "$WORK/nats-sync-probe" >"$conf"
  if err=$(nats-server -t -c "$conf" 2>&1); then
    NATS_SYNC_ENV=("NATS_JS_EXTRA=sync_interval: always")
    NATS_SYNC_LABEL="sync_interval: always in jetstream {} (nats-server $ver)"
    return 0
  fi
  why="nats-server $ver refuses sync_interval: always (${err##*: }; the setting came in v2.10.0)"
  why+=" and has no other fsync setting (stream files fsync every 2 min, the raft log every 5 min)"
  if [[ $mode == setting ]] || ! nats_sync_mount; then
    NATS_SYNC_LABEL="not measured: $why"
    return 1
  fi
  NATS_SYNC_ENV=("NATS_STORE_ROOT=$NATS_SYNC_MNT")
  NATS_SYNC_LABEL="emulated: $why; so its 3 store dirs are on an ext4 loop filesystem mounted"
  NATS_SYNC_LABEL+=" -o sync (every write(2) returns only once on disk, like O_SYNC)"
}

NATS_SYNC_MNT=""
nats_sync_mount() {
  [[ $(id -u) == 0 ]] && command -v mkfs.ext4 >/dev/null || return 1
  mkdir -p "$WORK/nats-sync"
  truncate -s 32G "$WORK/nats-sync.img" &&  # sparse
    mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$WORK/nats-sync.img" &&
    mount -o loop,sync "$WORK/nats-sync.img" "$WORK/nats-sync" || return 1
  NATS_SYNC_MNT=$WORK/nats-sync
}

nats_sync_umount() {
  [[ -n $NATS_SYNC_MNT ]] || return 0
  umount "$NATS_SYNC_MNT" || umount -l "$NATS_SYNC_MNT"
  NATS_SYNC_MNT=""
  rm -f "$WORK/nats-sync.img"
}

run_nats() {
  NATS_LINE=""
  [[ -n ${SKIP_NATS:-} ]] && return 0
  local env=()
  nats_prepare
  if [[ ${2:-} == sync ]]; then
    if ! nats_sync_setup; then log "NATS, fsync on every write: $NATS_SYNC_LABEL"; return 0; fi
    log "NATS, fsync on every write: $NATS_SYNC_LABEL"
    env=("${NATS_SYNC_ENV[@]}")
  fi
  log "NATS JetStream: $WORK/peers/nats.sh (DUR=$1${env[*]:+ ${env[*]}})"
  NATS_LINE=$(env "${env[@]}" DUR="$1" bash "$WORK/peers/nats.sh") || { log "nats.sh failed"; exit 1; }
  nats_sync_umount
  echo "$NATS_LINE"
}

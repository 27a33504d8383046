#!/usr/bin/env bash
# bench/broker-produce.sh: the brokers' produce path end to end, measured with `strand perf`
# on a local 3 controller + 3 broker cluster, beside NATS JetStream R3 in the same run.
#
#   bench/broker-produce.sh            # ~5 min: Strand cases, then NATS (bench/peers/nats.sh)
#   SKIP_NATS=1 bench/broker-produce.sh
#
# Every topic: replication factor 3, min.insync.replicas=2; one `strand perf produce` process
# (one idempotent producer, acks=all, compression none, batch.size 64 KiB, linger.ms 1).
#   throughput  100 B and 1 KiB records, 1 and 16 partitions, as fast as possible: records/s,
#               MB/s and publish latency (Send -> acknowledgement)
#   fixed rate  1 KiB records at each rate of RATES (records/s), on 1 and 16 partitions, for
#               RATE_SECONDS each, as OpenMessaging Benchmark does: publish latency, and
#               publish -> consume latency from a `strand perf consume` reading the same topic
#               live (record age: consume time - the record's CreateTime, millisecond clock)
# NATS: ../shared/bench/peers/nats.sh (3 nodes, R3 file stream, 1 KiB, one Node.js client):
# async publish throughput, sync publish ack latency, e2e latency at 1000 msg/s.
#
# Env: STRAND_BIN_DIR (build/bin), BASE_PORT (39090), RECORDS_SMALL (1000000),
#      RECORDS_LARGE (300000), RATES ("1000 5000 20000"), RATE_SECONDS (8), SKIP_NATS,
#      NATS_DUR (8), PEERS_DIR (../shared/bench/peers), KEEP_WORK=1 keeps the temp dir.
# Exit codes: 0 done, 1 a step failed, 2 missing binaries.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${STRAND_BIN_DIR:-$REPO/build/bin}
BASE_PORT=${BASE_PORT:-39090}
RECORDS_SMALL=${RECORDS_SMALL:-1000000}
RECORDS_LARGE=${RECORDS_LARGE:-300000}
RATES=${RATES:-"1000 5000 20000"}
RATE_SECONDS=${RATE_SECONDS:-8}
NATS_DUR=${NATS_DUR:-8}
PEERS_DIR=${PEERS_DIR:-$REPO/../shared/bench/peers}

for b in strand strand-server; do
  [[ -x $BIN_DIR/$b ]] || { echo "broker-produce.sh: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/strand-broker-produce.XXXXXX)
CLUSTER_DIR=$WORK/cluster
RESULTS=$WORK/results.jsonl
CONSUMER_PID=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $CONSUMER_PID ]] && kill "$CONSUMER_PID" 2>/dev/null
  [[ -f $CLUSTER_DIR/pids ]] && "$REPO/scripts/local-cluster.sh" down --dir "$CLUSTER_DIR" >&2
  if [[ ${KEEP_WORK:-0} == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "[broker-produce] $*" >&2; }

log "starting 3 controllers + 3 brokers in $CLUSTER_DIR (base port $BASE_PORT)"
STRAND_BIN_DIR=$BIN_DIR "$REPO/scripts/local-cluster.sh" up --controllers 3 --brokers 3 \
  --dir "$CLUSTER_DIR" --base-port "$BASE_PORT" --log-level warn >&2
# shellcheck disable=SC1091
source "$CLUSTER_DIR/cluster.env"
strand() { "$BIN_DIR/strand" --bootstrap "$STRAND_BOOTSTRAP" --timeout-ms 60000 "$@"; }

# create_topic NAME PARTITIONS: and waits until a client sees a leader for every partition.
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

PRODUCER=(--acks all --compression none --json -X enable.idempotence=true -X batch.size=65536
  -X linger.ms=1)

# record NAME JSON [KEY JSON]: one result line (the case name, the produce summary, and the
# consumer's summary when there is one).
record() {
  python3 -c '
import json, sys
d = json.loads(sys.argv[2]); d["case"] = sys.argv[1]
if len(sys.argv) > 3 and sys.argv[3]: d["consume"] = json.loads(sys.argv[3])
print(json.dumps(d))' "$@" | tee -a "$RESULTS"
}

# throughput NAME PARTITIONS RECORDS SIZE
throughput() {
  local name=$1 topic="tp-$2-$4" out
  create_topic "$topic" "$2"
  log "$name: perf produce --records $3 --record-size $4"
  out=$(strand perf produce --topic "$topic" --records "$3" --record-size "$4" "${PRODUCER[@]}") ||
    { log "$name failed"; echo "$out" >&2; return 1; }
  record "$name" "$out"
}

# fixed_rate NAME PARTITIONS RATE: 1 KiB records, a live consumer beside the producer.
fixed_rate() {
  local name=$1 topic="fr-$2-$3" records=$(($3 * RATE_SECONDS)) out cout
  create_topic "$topic" "$2"
  log "$name: perf produce --throughput $3 for ${RATE_SECONDS}s, perf consume beside it"
  strand perf consume --topic "$topic" --records "$records" --idle-timeout-ms 30000 --json \
    >"$WORK/consume.json" &
  CONSUMER_PID=$!
  sleep 1  # the consumer has its partitions before the first record
  out=$(strand perf produce --topic "$topic" --records "$records" --record-size 1024 \
    --throughput "$3" "${PRODUCER[@]}") || { log "$name failed"; echo "$out" >&2; return 1; }
  wait "$CONSUMER_PID" || { log "$name: perf consume failed"; cat "$WORK/consume.json" >&2; return 1; }
  CONSUMER_PID=""
  cout=$(cat "$WORK/consume.json")
  record "$name" "$out" "$cout"
}

for p in 1 16; do
  throughput "100B p$p max" "$p" "$RECORDS_SMALL" 100
  throughput "1KiB p$p max" "$p" "$RECORDS_LARGE" 1024
done
for p in 1 16; do
  for r in $RATES; do fixed_rate "1KiB p$p @$r/s" "$p" "$r"; done
done

"$REPO/scripts/local-cluster.sh" down --dir "$CLUSTER_DIR" >&2

NATS_LINE=""
if [[ -z ${SKIP_NATS:-} ]]; then
  peers=$PEERS_DIR
  if [[ ! -d $peers/node_modules/nats ]]; then
    log "installing NATS's pinned Node.js client in a copy of $PEERS_DIR"
    cp -r "$PEERS_DIR" "$WORK/peers"
    chmod -R u+w "$WORK/peers"
    (cd "$WORK/peers" && npm ci --no-audit --no-fund >&2)
    peers=$WORK/peers
  fi
  log "NATS JetStream: $peers/nats.sh (DUR=$NATS_DUR)"
  NATS_LINE=$(DUR=$NATS_DUR bash "$peers/nats.sh") || { log "nats.sh failed"; exit 1; }
  echo "$NATS_LINE"
fi

python3 - "$RESULTS" "$NATS_LINE" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
nats = dict(kv.split("=", 1) for kv in sys.argv[2].split()[1:] if "=" in kv) if sys.argv[2] else {}
print()
print(f"{'case':<18} {'records/s':>10} {'MB/s':>7} {'pub p50':>8} {'pub p99':>8} {'pub p99.9':>9} "
      f"{'e2e p50':>8} {'e2e p99':>8} {'e2e p99.9':>9}   (ms)")
by = {}
for r in rows:
    by[r["case"]] = r
    lat = r["latency_ms"]
    line = (f"{r['case']:<18} {r['records_per_sec']:>10,.0f} {r['mb_per_sec']:>7.1f} "
            f"{lat['p50']:>8.2f} {lat['p99']:>8.2f} {lat['p999']:>9.2f}")
    c = r.get("consume")
    if c:
        age = c["record_age_ms"]
        line += f" {age['p50']:>8.2f} {age['p99']:>8.2f} {age['p999']:>9.2f}"
    print(line)
if nats:
    f = lambda k: float(nats[k])
    print()
    for p in (1, 16):
        big = by[f"1KiB p{p} max"]["records_per_sec"]
        print(f"1 KiB throughput, {p} partition(s): Strand {big:,.0f} records/s vs NATS R3 async "
              f"{f('async_msgs_s'):,.0f} msgs/s -> {big / f('async_msgs_s'):.2f}x")
    for p in (1, 16):
        r = by.get(f"1KiB p{p} @1000/s")
        if r:
            lat, age = r["latency_ms"], r["consume"]["record_age_ms"]
            print(f"at 1000/s, {p} partition(s): Strand publish p99 {lat['p99']:.2f} ms vs NATS sync "
                  f"publish p99 {f('sync_ack_p99_ms'):.2f} ms ({lat['p99'] / f('sync_ack_p99_ms'):.2f}x); "
                  f"e2e p99 {age['p99']:.2f} ms vs NATS {f('e2e_p99_ms'):.2f} ms "
                  f"({age['p99'] / f('e2e_p99_ms'):.2f}x; lower is better)")
PY

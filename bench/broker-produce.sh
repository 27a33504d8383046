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

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RECORDS_SMALL=${RECORDS_SMALL:-1000000}
RECORDS_LARGE=${RECORDS_LARGE:-300000}
RATES=${RATES:-"1000 5000 20000"}
RATE_SECONDS=${RATE_SECONDS:-8}
NATS_DUR=${NATS_DUR:-8}

bench_init broker-produce
bench_cluster_up "${BASE_PORT:-39090}"

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
  BENCH_CHILD=$!
  sleep 1  # the consumer has its partitions before the first record
  out=$(strand perf produce --topic "$topic" --records "$records" --record-size 1024 \
    --throughput "$3" "${PRODUCER[@]}") || { log "$name failed"; echo "$out" >&2; return 1; }
  wait "$BENCH_CHILD" || { log "$name: perf consume failed"; cat "$WORK/consume.json" >&2; return 1; }
  BENCH_CHILD=""
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

bench_cluster_down
run_nats "$NATS_DUR"

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

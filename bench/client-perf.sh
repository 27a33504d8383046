#!/usr/bin/env bash
# bench/client-perf.sh: producer (and consumer) throughput and latency of a local Strand cluster,
# measured with `strand perf`, beside NATS JetStream R3 on the same machine in the same run.
#
#   bench/client-perf.sh            # ~3-4 min: Strand runs, then NATS (bench/peers/nats.sh)
#   SKIP_NATS=1 bench/client-perf.sh
#
# Strand: 3 controllers + 3 brokers (scripts/local-cluster.sh, data in a fresh temp dir, ports
# BASE_PORT+1..+199 on 127.0.0.1), topics with PARTITIONS partitions, replication factor 3,
# min.insync.replicas=2; one `strand perf produce` process (one producer, acks=all, idempotent)
# per case:
#   throughput  100 B and 1 KiB records, compression none and lz4, as fast as possible, with
#               the default batch.size (256 KiB, batches growing from 16 KiB); 100 B none
#               also with batch.size=64 KiB
#   latency     1 KiB at 1,000 records/s with linger.ms=0 (each record goes when sent, as a
#               sync publish does), and 100 B at 10,000 records/s with the default linger.ms=5
#               (at that rate batching pays for itself), LAT_SECONDS each
#   consumer    `strand perf consume` of the 100 B / none topic (both of its runs) from its start
# NATS: ../shared/bench/peers/nats.sh (3 nodes, R3 file stream, 1 KiB, one Node.js publisher),
# run from a copy with its npm dependencies installed when the shared copy has none.
#
# Prints every result line, then a summary table with the ratios of this run (Strand / NATS,
# Strand / Kafka's published 421,823 records/s for 100 B records with 3x synchronous
# replication and one producer). MB means 2^20 bytes for Strand (as Kafka's tools), 10^6 for
# NATS's own line.
#
# Env: STRAND_BIN_DIR (default build/bin), BASE_PORT (29090), PARTITIONS (6),
#      RECORDS_SMALL (1000000, 100 B cases), RECORDS_LARGE (300000, 1 KiB cases),
#      LAT_SECONDS (10), SKIP_NATS, NATS_DUR (8, seconds per NATS phase), PEERS_DIR
#      (../shared/bench/peers), KEEP_WORK=1 keeps the temp dir (cluster data and logs).
# Exit codes: 0 done, 1 a step failed (its output is shown), 2 missing binaries.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PARTITIONS=${PARTITIONS:-6}
RECORDS_SMALL=${RECORDS_SMALL:-1000000}
RECORDS_LARGE=${RECORDS_LARGE:-300000}
LAT_SECONDS=${LAT_SECONDS:-10}
NATS_DUR=${NATS_DUR:-8}
KAFKA_ANCHOR=421823

bench_init client-perf
bench_cluster_up "${BASE_PORT:-29090}"

# run_case NAME TOPIC RECORDS SIZE COMPRESSION [THROUGHPUT] [KEY=VALUE producer setting]
run_case() {
  local name=$1 topic=$2 records=$3 size=$4 codec=$5 rate=${6:-} setting=${7:-} out
  local args=(perf produce --topic "$topic" --records "$records" --record-size "$size"
    --acks all --compression "$codec" --json -X enable.idempotence=true)
  [[ -n $rate ]] && args+=(--throughput "$rate")
  [[ -n $setting ]] && args+=(-X "$setting")
  log "$name: ${args[*]}"
  out=$(strand "${args[@]}") || { log "$name failed"; echo "$out" >&2; return 1; }
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["case"]=sys.argv[1]; print(json.dumps(d))' \
    "$name" "$out" | tee -a "$RESULTS"
}

for t in small-none small-lz4 large-none large-lz4 lat-large lat-small; do create_topic "$t" "$PARTITIONS"; done

run_case "100B none" small-none "$RECORDS_SMALL" 100 none
run_case "100B none 64K" small-none "$RECORDS_SMALL" 100 none "" batch.size=65536
run_case "100B lz4" small-lz4 "$RECORDS_SMALL" 100 lz4
run_case "1KiB none" large-none "$RECORDS_LARGE" 1024 none
run_case "1KiB lz4" large-lz4 "$RECORDS_LARGE" 1024 lz4
run_case "1KiB @1000/s" lat-large $((LAT_SECONDS * 1000)) 1024 none 1000 linger.ms=0
run_case "100B @10000/s" lat-small $((LAT_SECONDS * 10000)) 100 none 10000

log "consumer: perf consume small-none"
consume_out=$(strand perf consume --topic small-none --records $((2 * RECORDS_SMALL)) --json) ||
  { log "perf consume failed"; echo "$consume_out" >&2; exit 1; }
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["case"]="consume 100B"; print(json.dumps(d))' \
  "$consume_out" | tee -a "$RESULTS"

bench_cluster_down
run_nats "$NATS_DUR"

python3 - "$RESULTS" "$KAFKA_ANCHOR" "$NATS_LINE" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
anchor = float(sys.argv[2])
nats = dict(kv.split("=", 1) for kv in sys.argv[3].split()[1:] if "=" in kv) if sys.argv[3] else {}
print()
print(f"{'case':<16} {'records/s':>11} {'MB/s':>8} {'avg ms':>8} {'p50 ms':>8} {'p95 ms':>8} "
      f"{'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8}")
by = {}
for r in rows:
    by[r["case"]] = r
    lat = r.get("latency_ms")
    line = f"{r['case']:<16} {r['records_per_sec']:>11,.0f} {r['mb_per_sec']:>8.2f} "
    if lat:  # produce: Send -> acknowledgement
        line += (f"{lat['avg']:>8.2f} {lat['p50']:>8.2f} {lat['p95']:>8.2f} {lat['p99']:>8.2f} "
                 f"{lat['p999']:>9.2f} {lat['max']:>8.2f}")
    print(line)
print()
s = by["100B none"]["records_per_sec"]
print(f"Kafka anchor (100 B, 3x sync replication, 1 producer): {anchor:,.0f} records/s; "
      f"Strand 100B none: {s:,.0f} -> {s / anchor:.2f}x")
if nats:
    f = lambda k: float(nats[k])
    big = by["1KiB none"]["records_per_sec"]
    lat = by["1KiB @1000/s"]["latency_ms"]
    print(f"NATS JetStream R3 1 KiB async (window {nats['async_window']}): {f('async_msgs_s'):,.0f} "
          f"msgs/s; Strand 1KiB none: {big:,.0f} records/s -> {big / f('async_msgs_s'):.2f}x")
    print(f"NATS sync publish (1 in flight): {f('sync_msgs_s'):,.0f} msgs/s, ack p50 "
          f"{f('sync_ack_p50_ms'):.3f} ms, p99 {f('sync_ack_p99_ms'):.3f} ms; Strand 1 KiB at "
          f"1000/s ack p50 {lat['p50']:.3f} ms, p99 {lat['p99']:.3f} ms -> p50 "
          f"{lat['p50'] / f('sync_ack_p50_ms'):.2f}x, p99 {lat['p99'] / f('sync_ack_p99_ms'):.2f}x "
          f"(lower is better)")
    print(f"NATS e2e publish->consume at {nats['e2e_rate']}/s: p50 {f('e2e_p50_ms'):.3f} ms, "
          f"p99 {f('e2e_p99_ms'):.3f} ms")
PY

#!/usr/bin/env bash
# bench/broker-tls.sh: produce throughput over mTLS against plaintext, same machine, same run.
#
#   bench/broker-tls.sh        # ~3 min
#
# A local 3 controller + 3 broker cluster, first plaintext, then with every listener SSL and
# client certificates required (local-cluster.sh --tls: clients, replication and the
# controllers all on mTLS). Each: one `strand perf produce` (one idempotent producer, acks=all,
# 1 KiB records, compression none, batch.size 64 KiB, linger.ms 1) on a topic with RF 3 and
# min.insync.replicas=2, 1 and 16 partitions. Prints records/s, MB/s and publish p50/p99 for
# both, and the mTLS / plaintext throughput ratio per case (goal: >= 0.85).
#
# Env: STRAND_BIN_DIR (build/bin), BASE_PORT (39490), RECORDS (300000), ROUNDS (2: plaintext
#      and mTLS alternate, each case's best round counts), KEEP_WORK=1 keeps the temp dir.
# Exit codes: 0 done, 1 a step failed, 2 missing binaries.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RECORDS=${RECORDS:-300000}
ROUNDS=${ROUNDS:-2}
PORT=${BASE_PORT:-39490}

bench_init broker-tls
PRODUCER=(--acks all --compression none --json -X enable.idempotence=true -X batch.size=65536
  -X linger.ms=1)

run_mode() {  # run_mode MODE ROUND [--tls]
  local mode=$1 round=$2 p out
  rm -rf "$CLUSTER_DIR"
  bench_cluster_up "$PORT" "${3:-}"
  for p in 1 16; do
    create_topic "tls-$round-$p" "$p"
    log "$mode round $round: perf produce 1 KiB x $RECORDS on $p partition(s)"
    out=$(strand perf produce --topic "tls-$round-$p" --records "$RECORDS" --record-size 1024 \
      "${PRODUCER[@]}") || { log "$mode p$p failed"; echo "$out" >&2; return 1; }
    python3 -c '
import json, sys
d = json.loads(sys.argv[1]); d.update(mode=sys.argv[2], partitions=int(sys.argv[3]), round=int(sys.argv[4]))
print(json.dumps(d))' "$out" "$mode" "$p" "$round" >>"$RESULTS"
  done
  bench_cluster_down
}

for round in $(seq 1 "$ROUNDS"); do
  run_mode plaintext "$round"
  run_mode mtls "$round" --tls
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def best(mode, p):
    rs = [r for r in rows if r["mode"] == mode and r["partitions"] == p]
    return max(rs, key=lambda r: r["records_per_sec"])
def lat(r, k):
    v = r.get("latency_ms", {}).get(k)
    return f"{v:.1f}" if isinstance(v, (int, float)) else "-"
print(f"{'case':<22}{'records/s':>12}{'MB/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
for p in (1, 16):
    plain, tls = best("plaintext", p), best("mtls", p)
    for name, r in (("plaintext", plain), ("mtls", tls)):
        print(f"{'1KiB p%d %s' % (p, name):<22}{r['records_per_sec']:>12,.0f}{r['records_per_sec']*1024/1e6:>9.1f}{lat(r,'p50'):>9}{lat(r,'p99'):>9}")
    print(f"  mTLS / plaintext throughput, {p} partition(s): {tls['records_per_sec']/plain['records_per_sec']:.2f}")
PY

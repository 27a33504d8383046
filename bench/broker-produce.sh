#!/usr/bin/env bash
# bench/broker-produce.sh: the brokers' produce path end to end, measured with `strand perf`
# on a local 3 controller + 3 broker cluster, beside NATS JetStream R3 in the same run.
#
#   bench/broker-produce.sh            # ~20 min: Strand cases, then NATS twice
#   SKIP_NATS=1 bench/broker-produce.sh
#
# Every topic: replication factor 3, min.insync.replicas=2; one `strand perf produce` process
# (one idempotent producer, acks=all, compression none).
#   throughput  the producer's default settings (batch.size, linger.ms 5, 5 requests in flight):
#               100 B and 1 KiB records, 1 and 16 partitions, as fast as possible: records/s,
#               MB/s, publish latency (Send -> acknowledgement), and CPU-s/GB: utime+stime
#               (/proc/PID/stat) of all 6 strand-server processes, from before `perf produce`
#               starts to after it exits, per 10^9 B acknowledged (records x record size)
#   fixed rate  1 KiB records at each rate of RATES (records/s), on 1 and 16 partitions, for
#               RATE_SECONDS each, as OpenMessaging Benchmark does: publish latency, and
#               publish -> consume latency from a `strand perf consume` reading the same topic
#               live (record age: consume time - the record's CreateTime, millisecond clock).
#               linger.ms 0: each record is sent at once. RUNS runs of each case (runs
#               interleaved, a fresh topic each, deleted after it); the summary quotes each
#               column's median over the runs, and where the time went on the brokers
#               (bench/stage_breakdown.py: their produce and follower stage histograms, summed
#               over the runs, and the client's latency minus the broker's produce request time:
#               network, gRPC and the client)
#   floor       1 KiB at 1,000/s on 1 partition of a single replica (min.insync.replicas 1), RUNS
#               runs beside the others: acks=all is then the leader's own fsync, no replication;
#               what this machine gives one fsynced copy (FLOOR=0: not run)
#   every case  resend %: producer.batches_retried / producer.batches (sends, resends included)
# NATS: ../shared/bench/peers/nats.sh (3 nodes, R3 file stream, 1 KiB, one Node.js client), from
# a patched copy (bench/lib.sh run_nats), twice: (a) as nats.sh configures it, (b) with fsync on
# every write: `sync_interval: always` where nats-server takes it, else (v2.9) its store dirs on
# a filesystem mounted -o sync; the summary says which, and why. Each: async publish throughput
# and the 3 servers' CPU-s/GB over that phase, sync publish ack latency, e2e latency at 1000/s.
#
# Page cache: as root, every case starts with `sync; echo 1 > /proc/sys/vm/drop_caches`
# (DROP_CACHES=0: not). On these VMs a page cache growing into memory the guest never touched
# halved the throughput of whichever case came fourth (213,000 -> 113,000 1 KiB records/s in
# one cluster, the same case each time) and left tails of hundreds of ms in the fixed-rate
# cases after it; dropped before each case, the same runs held 204,000-219,000.
#
# Env: STRAND_BIN_DIR (build/bin), BASE_PORT (39090), RECORDS_SMALL (1000000),
#      RECORDS_LARGE (300000), RATES ("1000 5000 20000"), RATE_SECONDS (30), RUNS (3), FLOOR (1),
#      SKIP_NATS, NATS_DUR (8), NATS_SYNC (auto; setting: the server setting or no (b); off: no
#      (b)), PEERS_DIR (../shared/bench/peers), KEEP_WORK=1 keeps the temp dir, DROP_CACHES
#      (1 as root).
# Exit codes: 0 done, 1 a step failed, 2 missing binaries.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RECORDS_SMALL=${RECORDS_SMALL:-1000000}
RECORDS_LARGE=${RECORDS_LARGE:-300000}
RATES=${RATES:-"1000 5000 20000"}
RATE_SECONDS=${RATE_SECONDS:-30}
RUNS=${RUNS:-3}
NATS_DUR=${NATS_DUR:-8}
CLK_TCK=$(getconf CLK_TCK)

bench_init broker-produce
bench_cluster_up "${BASE_PORT:-39090}"

PRODUCER=(--acks all --compression none --json -X enable.idempotence=true)
FIXED_RATE=(-X linger.ms=0)

# record NAME JSON [CONSUME_JSON [CPU_TICKS [RUN [STAGES_JSON]]]]: one result line (the case
# name, the produce summary, the consumer's summary, the servers' CPU seconds, the run number,
# the brokers' stage histograms over the run, where given).
record() {
  CLK_TCK=$CLK_TCK python3 -c '
import json, os, sys
name, out, cons, ticks, run, stages = (sys.argv[1:] + [""] * 6)[:6]
d = json.loads(out); d["case"] = name
if cons: d["consume"] = json.loads(cons)
if ticks: d["server_cpu_s"] = int(ticks) / int(os.environ["CLK_TCK"])
if run: d["run"] = int(run)
if stages: d["stages"] = json.loads(stages)
print(json.dumps(d))' "$@" | tee -a "$RESULTS"
}

# drop_caches: a clean page cache for the next case (see the header), when root.
drop_caches() {
  [[ ${DROP_CACHES:-1} == 1 && -w /proc/sys/vm/drop_caches ]] || return 0
  sync
  echo 1 >/proc/sys/vm/drop_caches
}

# throughput NAME PARTITIONS RECORDS SIZE
throughput() {
  local name=$1 topic="tp-$2-$4" out c0 c1
  drop_caches
  create_topic "$topic" "$2"
  log "$name: perf produce --records $3 --record-size $4"
  c0=$(cluster_cpu_ticks)
  out=$(strand perf produce --topic "$topic" --records "$3" --record-size "$4" "${PRODUCER[@]}") ||
    { log "$name failed"; echo "$out" >&2; return 1; }
  c1=$(cluster_cpu_ticks)
  record "$name" "$out" "" "$((c1 - c0))"
  strand topics delete "$topic" >&2 || log "could not delete $topic (left in place)"
}

# fixed_rate NAME PARTITIONS RATE RUN [REPLICAS]: 1 KiB records, a live consumer beside the
# producer, on a topic of its own (replication factor 3 unless REPLICAS), deleted after the run.
fixed_rate() {
  local name=$1 topic="fr-$2-$3-r$4-rf${5:-3}" records=$(($3 * RATE_SECONDS)) out cout
  drop_caches
  create_topic "$topic" "$2" "${5:-3}"
  log "$name run $4/$RUNS: perf produce --throughput $3 for ${RATE_SECONDS}s, perf consume beside it"
  strand perf consume --topic "$topic" --records "$records" --idle-timeout-ms 30000 --json \
    >"$WORK/consume.json" &
  BENCH_CHILD=$!
  sleep 1  # the consumer has its partitions before the first record
  python3 "$REPO/bench/stage_breakdown.py" snap "$WORK/stages0.json"
  out=$(strand perf produce --topic "$topic" --records "$records" --record-size 1024 \
    --throughput "$3" "${PRODUCER[@]}" "${FIXED_RATE[@]}") ||
    { log "$name failed"; echo "$out" >&2; return 1; }
  python3 "$REPO/bench/stage_breakdown.py" snap "$WORK/stages1.json"
  wait "$BENCH_CHILD" || { log "$name: perf consume failed"; cat "$WORK/consume.json" >&2; return 1; }
  BENCH_CHILD=""
  cout=$(cat "$WORK/consume.json")
  record "$name" "$out" "$cout" "" "$4" \
    "$(python3 "$REPO/bench/stage_breakdown.py" diff "$WORK/stages0.json" "$WORK/stages1.json")"
  strand topics delete "$topic" >&2 || log "could not delete $topic (left in place)"
}

for p in 1 16; do
  throughput "100B p$p max" "$p" "$RECORDS_SMALL" 100
  throughput "1KiB p$p max" "$p" "$RECORDS_LARGE" 1024
done
for run in $(seq 1 "$RUNS"); do
  for p in 1 16; do
    for r in $RATES; do fixed_rate "1KiB p$p @$r/s" "$p" "$r" "$run"; done
  done
  # The floor: the same 1,000/s case on one replica (acks=all is then the leader's own fsync, no
  # replication), what this machine gives a single fsynced copy.
  if [[ ${FLOOR:-1} == 1 ]]; then fixed_rate "1KiB RF1 @1000/s" 1 1000 "$run" 1; fi
done

bench_cluster_down
run_nats "$NATS_DUR"
NATS_DEFAULT=$NATS_LINE
run_nats "$NATS_DUR" sync
NATS_FSYNC=$NATS_LINE

python3 - "$RESULTS" "$RUNS" "$CLK_TCK" "$NATS_DEFAULT" "$NATS_FSYNC" "${NATS_SYNC_LABEL:-}" <<'PY'
import json, statistics, sys
path, runs, clk, line_a, line_b, label_b = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
kv = lambda line: dict(x.split("=", 1) for x in line.split()[1:] if "=" in x) if line else {}
med = statistics.median

by = {}  # case -> its runs, in order of first appearance
for r in rows:
    by.setdefault(r["case"], []).append(r)

def summary(rs):
    """One row's figures: medians over the runs; resend % over all their batches."""
    s = {"n": len(rs), "rps": med(r["records_per_sec"] for r in rs),
         "mbps": med(r["mb_per_sec"] for r in rs)}
    for k in ("p50", "p99", "p999"):
        s["pub_" + k] = med(r["latency_ms"][k] for r in rs)
        if all("consume" in r for r in rs):
            s["e2e_" + k] = med(r["consume"]["record_age_ms"][k] for r in rs)
    sent = sum(r["producer"]["batches"] for r in rs)
    s["resend"] = 100.0 * sum(r["producer"]["batches_retried"] for r in rs) / sent if sent else float("nan")
    if all("server_cpu_s" in r for r in rs):
        gb = sum(r["records"] * r["record_size"] for r in rs) / 1e9
        s["cpu_gb"] = sum(r["server_cpu_s"] for r in rs) / gb
    return s

S = {c: summary(rs) for c, rs in by.items()}
print()
print(f"{'case':<18} {'runs':>4} {'records/s':>10} {'MB/s':>7} {'pub p50':>8} {'pub p99':>8} "
      f"{'pub p99.9':>9} {'e2e p50':>8} {'e2e p99':>8} {'e2e p99.9':>9} {'resend %':>8} {'CPU-s/GB':>8}")
dash = "-"
for c, s in S.items():
    line = (f"{c:<18} {s['n']:>4} {s['rps']:>10,.0f} {s['mbps']:>7.1f} "
            f"{s['pub_p50']:>8.2f} {s['pub_p99']:>8.2f} {s['pub_p999']:>9.2f}")
    if "e2e_p50" in s:
        line += f" {s['e2e_p50']:>8.2f} {s['e2e_p99']:>8.2f} {s['e2e_p999']:>9.2f}"
    else:
        line += f" {dash:>8} {dash:>8} {dash:>9}"
    line += f" {s['resend']:>8.2f}"
    line += f" {s['cpu_gb']:>8.1f}" if "cpu_gb" in s else f" {dash:>8}"
    print(line)
print(f"latencies in ms. Fixed-rate rows: median of {runs} runs of every column (each run a fresh "
      f"topic); resend % over all their batches (batches_retried / batches sent, resends included).")
print(f"CPU-s/GB: utime+stime (/proc/PID/stat, CLK_TCK {clk}) of all strand-server processes "
      "(3 controllers + 3 brokers) from before `perf produce` started to after it exited, per "
      "10^9 B acknowledged (records x record size); client processes and kernel threads not counted.")
multi = [c for c, rs in by.items() if len(rs) > 1]
if multi:
    print("per run p99 (publish | e2e), ms:")
    for c in multi:
        pub = " ".join(f"{r['latency_ms']['p99']:.2f}" for r in by[c])
        e2e = " ".join(f"{r['consume']['record_age_ms']['p99']:.2f}" for r in by[c] if "consume" in r)
        print(f"  {c:<18} {pub} | {e2e}")

staged = [c for c, rs in by.items() if all("stages" in r for r in rs)]
if staged:
    cols = [("produce.append", "append"), ("produce.leader_fsync", "ldr fsync"),
            ("produce.commit", "commit"), ("produce.respond", "respond"),
            ("follower.append", "flw append"), ("follower.fsync", "flw fsync")]
    print()
    print("Where the time went at fixed rates, mean ms (median over the runs): the client's publish "
          "latency; the broker's produce request (arrival to answer); their difference (network, gRPC,")
    print("the client); then the leader's stages from the request's arrival: append, append -> its own "
          "fsync, append -> commit (every ISR member durable), commit -> answer; and the followers' "
          "append and fsync wait per fetch.")
    print(f"{'case':<18} {'client':>7} {'broker':>7} {'net+rpc':>7} " +
          " ".join(f"{h:>10}" for _, h in cols))
    for c in staged:
        rs = by[c]
        mean = lambda k: med(r["stages"][k]["mean_ms"] if k in r["stages"] else float("nan") for r in rs)
        client = med(r["latency_ms"]["avg"] for r in rs)
        broker = mean("broker_produce_request")
        print(f"{c:<18} {client:>7.3f} {broker:>7.3f} {client - broker:>7.3f} " +
              " ".join(f"{mean(k):>10.3f}" for k, _ in cols))
    print("p99 (bucket upper bounds, ms; median over the runs):")
    for c in staged:
        rs = by[c]
        p99 = lambda k: med(r["stages"][k]["p99_ms"] if k in r["stages"] else float("nan") for r in rs)
        print(f"{c:<18} {med(r['latency_ms']['p99'] for r in rs):>7.3f} "
              f"{p99('broker_produce_request'):>7.3f} {dash:>7} " +
              " ".join(f"{p99(k):>10.3f}" for k, _ in cols))

def nats_summary(n):
    f = lambda k: float(n[k])
    out = {"async": f("async_msgs_s"), "async_MBps": f("async_MBps"), "sync_p50": f("sync_ack_p50_ms"),
           "sync_p99": f("sync_ack_p99_ms"), "e2e_p50": f("e2e_p50_ms"), "e2e_p99": f("e2e_p99_ms"),
           "e2e_rate": f("e2e_rate"), "e2e_recv": n.get("e2e_recv", "?"),
           "version": n.get("version", "?")}
    acked, ticks = float(n.get("async_acked", "nan")), float(n.get("async_cpu_ticks", "nan"))
    out["cpu_gb"] = ticks / float(clk) / (acked * float(n.get("msg_size", 1024)) / 1e9) if acked > 0 else float("nan")
    out["cpu_note"] = f"{ticks / float(clk):.2f} CPU-s / {acked:,.0f} msgs acked"
    return out

variants = []  # (tag, how, figures)
if line_a:
    variants.append(("(a) default", "as nats.sh configures it: no sync setting, nats-server's own fsync policy",
                     nats_summary(kv(line_a))))
if line_b:
    variants.append(("(b) fsync on every write", label_b, nats_summary(kv(line_b))))
def ratio(x, y):
    r = x / y if y else float("nan")
    return f"{r:.2f}x" if not r < 0.1 else f"{r:.2g}x"
if not line_a and not line_b:
    sys.exit(0)
print()
print("NATS JetStream R3 (3 nats-server on this machine, file storage, 1 KiB messages, one Node.js client):")
for tag, how, n in variants:
    print(f"  {tag}: {how}")
    print(f"      nats-server {n['version']}: async publish {n['async']:,.0f} msgs/s ({n['async_MBps']:.1f} MB/s, "
          f"10^6 B); sync publish ack p50 {n['sync_p50']:.2f} / p99 {n['sync_p99']:.2f} ms; e2e at "
          f"{n['e2e_rate']:.0f}/s p50 {n['e2e_p50']:.2f} / p99 {n['e2e_p99']:.2f} ms (received {n['e2e_recv']}); "
          f"CPU-s/GB {n['cpu_gb']:.1f} ({n['cpu_note']}, async phase)")
    if n["async"] < n["e2e_rate"]:
        print(f"      its async maximum is below {n['e2e_rate']:.0f}/s: the e2e figures are queueing delay")
if line_a and not line_b:
    print(f"  (b) fsync on every write: {label_b or 'not measured'}")
print("  NATS CPU-s/GB: utime+stime of the 3 nats-server from the start of the async publish phase to its "
      "last ack, per 10^9 B acknowledged in it (msgs acked x 1024 B).")
for tag, how, n in variants:
    print()
    print(f"Strand vs NATS {tag}:")
    for p in (1, 16):
        s = S.get(f"1KiB p{p} max")
        if s:
            print(f"  1 KiB max, {p:>2} partition(s): Strand {s['rps']:,.0f} records/s vs NATS async "
                  f"{n['async']:,.0f} msgs/s -> {ratio(s['rps'], n['async'])}; CPU-s/GB Strand "
                  f"{s['cpu_gb']:.1f} vs NATS {n['cpu_gb']:.1f} -> {ratio(s['cpu_gb'], n['cpu_gb'])} (lower is better)")
    for p in (1, 16):
        s = S.get(f"1KiB p{p} @1000/s")
        if s and "e2e_p99" in s:
            print(f"  at 1000/s, {p:>2} partition(s), Strand median of {s['n']} runs: publish p99 "
                  f"{s['pub_p99']:.2f} ms vs NATS sync publish p99 {n['sync_p99']:.2f} ms "
                  f"({ratio(s['pub_p99'], n['sync_p99'])}); e2e p99 {s['e2e_p99']:.2f} ms vs NATS "
                  f"{n['e2e_p99']:.2f} ms ({ratio(s['e2e_p99'], n['e2e_p99'])}; lower is better)")
    s = S.get("1KiB RF1 @1000/s")
    if s:
        print(f"  floor, 1 replica (one fsync, no replication) at 1000/s: publish p99 {s['pub_p99']:.2f} ms "
              f"vs NATS R3 sync publish p99 {n['sync_p99']:.2f} ms ({ratio(s['pub_p99'], n['sync_p99'])})")
PY

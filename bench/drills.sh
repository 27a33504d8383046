#!/usr/bin/env bash
# bench/drills.sh: failover drills repeated, for unavailability windows worth quoting.
#
#   sudo bench/drills.sh                        # leader-kill and controller-kill, 20 faults each
#   sudo REPEAT=5 bench/drills.sh leader-kill leader-isolate leader-pause
#   sudo REPEAT=5 bench/drills.sh all           # every scenario `strand drill list` names
#
# Starts 3 controllers and 3 brokers with scripts/local-cluster.sh up --netns --fault-injection
# (default settings otherwise; root and nftables needed for the network scenarios, fault
# injection for the disk and clock ones) in a fresh temp dir, runs
# `strand drill run SCENARIO --repeat REPEAT --json` for each scenario (default: leader-kill and
# controller-kill), and prints per scenario the windows over its REPEAT faults: writes (the
# longest stretch without an acknowledgement in any partition), consumers (without a delivery to
# the group) and metadata operations through the brokers (fault -> first success), each p50 /
# p99 / max, and whether the drill passed (nothing acknowledged lost, ...). Goals: p99 < 1 s for
# leader-kill writes and for controller-kill metadata operations.
#
# Env: STRAND_BIN_DIR (default build/bin), REPEAT (20), SEED (1), BASE_PORT (29500),
#      KEEP_WORK=1 keeps the temp dir (cluster data, logs, acknowledgement logs).
# Exit codes: 0 every drill passed, 1 one failed or a step failed, 2 missing binaries.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${STRAND_BIN_DIR:-$REPO/build/bin}
REPEAT=${REPEAT:-20}
SEED=${SEED:-1}
BASE_PORT=${BASE_PORT:-29500}
SCENARIOS=("$@")
((${#SCENARIOS[@]})) || SCENARIOS=(leader-kill controller-kill)
if [[ ${SCENARIOS[*]} == all ]]; then
  mapfile -t SCENARIOS < <("$BIN_DIR/strand" drill list --json |
    python3 -c 'import json, sys; [print(s["scenario"]) for s in json.load(sys.stdin)]')
fi

for b in strand strand-server; do
  [[ -x $BIN_DIR/$b ]] || { echo "drills.sh: $BIN_DIR/$b not found (build first)" >&2; exit 2; }
done
WORK=$(mktemp -d /tmp/strand-drills.XXXXXX)
cleanup() {
  STRAND_BIN_DIR=$BIN_DIR "$REPO/scripts/local-cluster.sh" down --dir "$WORK/cluster" >/dev/null 2>&1 || true
  [[ ${KEEP_WORK:-0} == 1 ]] && echo "kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

STRAND_BIN_DIR=$BIN_DIR "$REPO/scripts/local-cluster.sh" up --netns --fault-injection --controllers 3 --brokers 3 \
  --dir "$WORK/cluster" --base-port "$BASE_PORT" >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log" >&2; exit 1; }

status=0
for s in "${SCENARIOS[@]}"; do
  echo "[drills] $s: $REPEAT faults (seed $SEED)" >&2
  "$BIN_DIR/strand" drill run "$s" --dir "$WORK/cluster" --seed "$SEED" --repeat "$REPEAT" \
    --json >>"$WORK/results.jsonl" || status=1
done

python3 - "$WORK/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def w(s):
    return "never" if s.get("max", -1) < 0 else f"{s['p50']:.0f} / {s['p99']:.0f} / {s['max']:.0f}"
print(f"{'scenario':<20} {'faults':>6}  {'writes p50/p99/max ms':>24}  {'consumers p50/p99/max ms':>26}  "
      f"{'metadata p50/p99/max ms':>25}  acknowledged  lost  ok")
for r in rows:
    print(f"{r['scenario']:<20} {len(r['faults']):>6}  {w(r['window_ms']):>24}  "
          f"{w(r['consumer_window_ms']):>26}  {w(r['admin_window_ms']):>25}  "
          f"{r['acknowledged']:>12}  {r['lost']:>4}  {r['ok']}")
    for e in r.get("errors", []) + r.get("violations", []):
        print(f"    {e}")
PY
exit $status

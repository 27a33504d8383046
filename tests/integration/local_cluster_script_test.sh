#!/usr/bin/env bash
# Tests scripts/local-cluster.sh without a real server: stand-in binaries (a strand-server that
# records its arguments and idles, a strand whose `cluster describe --json` answer is scripted)
# are put in STRAND_BIN_DIR. Covers usage errors, refusals (running cluster, taken port, missing
# binary), `up` (arguments per node, pids, cluster.env, readiness wait, timeout, a node dying
# during start-up), `down` (SIGTERM, SIGKILL after the grace period, with plain sleep processes
# standing in) and --foreground. Every wait is bounded; every process started here is stopped by
# its PID at exit.
#
#   tests/integration/local_cluster_script_test.sh [path/to/local-cluster.sh]
set -euo pipefail

SCRIPT=${1:-$(cd "$(dirname "$0")/../.." && pwd)/scripts/local-cluster.sh}
WORK=$(mktemp -d /tmp/local-cluster-test-XXXXXX)
STUBS=$WORK/bin
STARTED_PIDS=()  # stand-ins and helpers started by this test
FAILURES=0

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # Stand-in servers started through the script record their PIDs in their data directories.
  cat "$WORK"/*/node-*/pid 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# run EXPECTED_EXIT NAME ARGS...: runs the script (at most 60 s) with output in $WORK/out and
# $WORK/err, and checks its exit code.
run() {
  local expected=$1 name=$2 code=0
  shift 2
  timeout 60 "$SCRIPT" "$@" >"$WORK/out" 2>"$WORK/err" || code=$?
  if ((code != expected)); then
    fail "$name: exit $code, expected $expected (args: $*)"
    sed 's/^/  stdout: /' "$WORK/out" >&2
    sed 's/^/  stderr: /' "$WORK/err" >&2
    return 1
  fi
  echo "ok: $name"
}

expect_in() {  # FILE TEXT NAME
  grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $(basename "$1"):"; sed 's/^/  /' "$1" >&2; }
}

alive() {  # a running process (zombies do not count)
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

wait_for() {  # SECONDS COMMAND...: polls every 0.1 s
  local tenths
  for ((tenths = 0; tenths < $1 * 10; tenths++)); do
    if "${@:2}"; then return 0; fi
    sleep 0.1
  done
  return 1
}

listening() {  # PORT: something accepts connections on 127.0.0.1:PORT
  python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    "$1" 2>/dev/null
}

free_base_port() {
  python3 - <<'PY'
import random, socket
for _ in range(200):
    base = random.randrange(20000, 60000)
    ok = True
    for port in range(base + 1, base + 200):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base)
        break
PY
}

make_stubs() {
  mkdir -p "$STUBS"
  cat >"$STUBS/strand-server" <<'EOF'
#!/usr/bin/env bash
# Stand-in strand-server. STUB_SERVER_MODE: idle (default), ignore-term, exit.
for a in "$@"; do case $a in --data-dir=*) dir=${a#*=} ;; esac; done
printf '%s\n' "$@" >"$dir/args"
echo $$ >"$dir/pid"
case ${STUB_SERVER_MODE:-idle} in
  exit) exit 3 ;;
  ignore-term) trap '' TERM ;;
  *) trap 'exit 0' TERM ;;
esac
while true; do sleep 0.1; done
EOF
  cat >"$STUBS/strand" <<'EOF'
#!/usr/bin/env bash
# Stand-in strand CLI: `cluster describe --json` reports an active controller and brokers
# 101..100+STUB_BROKERS running once called STUB_READY_AFTER times (never when "never").
count_file=${STUB_STATE:?}/describe-calls
calls=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo "$calls" >"$count_file"
echo "$*" >"$STUB_STATE/last-args"
ready_after=${STUB_READY_AFTER:-1}
if [[ $ready_after == never ]] || ((calls < ready_after)); then
  echo '{"active_controller": -1, "brokers": []}'
  exit 0
fi
brokers=""
for ((i = 1; i <= ${STUB_BROKERS:-0}; i++)); do
  brokers+="${brokers:+,}{\"id\": $((100 + i)), \"state\": \"running\"}"
done
echo "{\"active_controller\": 2, \"brokers\": [$brokers]}"
EOF
  chmod +x "$STUBS/strand-server" "$STUBS/strand"
}

test_usage_errors() {
  local base=$1
  run 2 "no command" || true
  run 2 "unknown command" start || true
  run 2 "up without --controllers" up --dir "$WORK/u" --base-port "$base" || true
  run 2 "--controllers 0" up --controllers 0 --dir "$WORK/u" --base-port "$base" || true
  run 2 "--controllers 10" up --controllers 10 --dir "$WORK/u" --base-port "$base" || true
  run 2 "--controllers abc" up --controllers abc --dir "$WORK/u" --base-port "$base" || true
  run 2 "--brokers 90" up --controllers 1 --brokers 90 --dir "$WORK/u" --base-port "$base" || true
  run 2 "--base-port 80" up --controllers 1 --dir "$WORK/u" --base-port 80 || true
  run 2 "--base-port 65400" up --controllers 1 --dir "$WORK/u" --base-port 65400 || true
  run 2 "up without --dir" up --controllers 1 --base-port "$base" || true
  run 2 "up without --base-port" up --controllers 1 --dir "$WORK/u" || true
  run 2 "unknown option" up --controllers 1 --dir "$WORK/u" --base-port "$base" --bogus || true
  run 2 "option without value" up --controllers 1 --base-port "$base" --dir || true
  run 2 "bad --config" up --controllers 1 --dir "$WORK/u" --base-port "$base" --config x || true
  run 2 "down without --dir" down || true
  run 2 "down with an up option" down --dir "$WORK" --controllers 3 || true
  expect_in "$WORK/err" "down takes only --dir and --grace" "down with an up option"
  run 2 "down with --netns" down --dir "$WORK" --netns || true
  run 0 "--help" --help && expect_in "$WORK/out" "PORT + 100 + slot" "--help" &&
    expect_in "$WORK/out" "STRAND_NODE_<id>_NETNS" "--help names the --netns variables"
  [[ ! -e $WORK/u/pids ]] || fail "a usage error started something"
}

test_missing_binary() {
  STRAND_BIN_DIR=$WORK/empty run 1 "missing strand-server" \
    up --controllers 1 --dir "$WORK/m" --base-port "$1" &&
    expect_in "$WORK/err" "strand-server not found" "missing strand-server"
}

test_up_and_down() {
  local base=$1 dir=$WORK/c1
  export STUB_STATE=$WORK/state1 STUB_READY_AFTER=3 STUB_BROKERS=3
  mkdir -p "$STUB_STATE"
  run 0 "up 3 controllers + 3 brokers" \
    up --controllers 3 --brokers 3 --dir "$dir" --base-port "$base" --config a=b || return 0
  [[ $(cat "$STUB_STATE/describe-calls") == 3 ]] || fail "up did not wait for readiness"
  expect_in "$STUB_STATE/last-args" "--bootstrap 127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))" "probe bootstrap"
  expect_in "$STUB_STATE/last-args" "cluster describe --json" "probe command"
  expect_in "$WORK/out" "source" "hint"
  [[ $(wc -l <"$dir/pids") == 6 ]] || fail "pids has $(wc -l <"$dir/pids") lines, expected 6"
  local quorum="--controller-quorum=1@127.0.0.1:$((base + 1)),2@127.0.0.1:$((base + 2)),3@127.0.0.1:$((base + 3))"
  expect_in "$dir/node-2/args" "--roles=controller" "controller role"
  expect_in "$dir/node-2/args" "--node-id=2" "controller id"
  expect_in "$dir/node-2/args" "$quorum" "quorum"
  expect_in "$dir/node-2/args" "--config=listeners=CONTROLLER://127.0.0.1:$((base + 2))" "controller listener"
  expect_in "$dir/node-2/args" "--config=controller.listener.names=CONTROLLER" "controller listener name"
  expect_in "$dir/node-2/args" "--metrics-listen=127.0.0.1:$((base + 102))" "controller metrics"
  expect_in "$dir/node-2/args" "--data-dir=$dir/node-2" "data dir"
  expect_in "$dir/node-2/args" "--cluster-id=strand-local" "cluster id"
  expect_in "$dir/node-2/args" "--config=a=b" "config passthrough"
  grep -q -- "--rack" "$dir/node-2/args" && fail "a controller got --rack"
  expect_in "$dir/node-102/args" "--roles=broker" "broker role"
  expect_in "$dir/node-102/args" "--config=listeners=CLIENT://127.0.0.1:$((base + 12)),REPLICATION://127.0.0.1:$((base + 212)),CONTROLLER://127.0.0.1:$((base + 312))" "broker listeners"
  expect_in "$dir/node-102/args" "--config=inter.broker.listener.name=REPLICATION" "inter-broker listener"
  expect_in "$dir/node-102/args" "--metrics-listen=127.0.0.1:$((base + 112))" "broker metrics"
  expect_in "$dir/node-102/args" "--rack=rack-2" "broker rack"
  expect_in "$dir/node-103/args" "--rack=rack-0" "broker rack wraps"
  expect_in "$dir/node-101/args" "$quorum" "broker quorum"
  (
    # shellcheck disable=SC1091
    source "$dir/cluster.env"
    [[ $STRAND_BOOTSTRAP == "127.0.0.1:$((base + 11)),127.0.0.1:$((base + 12)),127.0.0.1:$((base + 13))" ]] ||
      echo "STRAND_BOOTSTRAP=$STRAND_BOOTSTRAP"
    [[ $STRAND_CONTROLLERS == "127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))" ]] ||
      echo "STRAND_CONTROLLERS=$STRAND_CONTROLLERS"
    [[ $STRAND_NODE_101_ADDR == "127.0.0.1:$((base + 11))" ]] || echo "NODE_101_ADDR=$STRAND_NODE_101_ADDR"
    [[ $STRAND_NODE_101_REPLICATION_ADDR == "127.0.0.1:$((base + 211))" ]] || echo "NODE_101_REPLICATION_ADDR=$STRAND_NODE_101_REPLICATION_ADDR"
    [[ $STRAND_NODE_101_METRICS == "127.0.0.1:$((base + 111))" ]] || echo "NODE_101_METRICS"
    [[ $STRAND_NODE_3_PID == "$(cat "$dir/node-3/pid")" ]] || echo "NODE_3_PID=$STRAND_NODE_3_PID"
    [[ $STRAND_CLUSTER_DIR == "$dir" ]] || echo "STRAND_CLUSTER_DIR=$STRAND_CLUSTER_DIR"
  ) >"$WORK/env-check"
  if [[ -s $WORK/env-check ]]; then fail "cluster.env: $(cat "$WORK/env-check")"; else echo "ok: cluster.env"; fi

  run 1 "refuses a second up in the same dir" \
    up --controllers 3 --brokers 3 --dir "$dir" --base-port "$((base + 200))" &&
    expect_in "$WORK/err" "already runs a cluster" "second up"

  local pids
  pids=$(awk '{print $2}' "$dir/pids")
  run 0 "down" down --dir "$dir" --grace 5 || true
  local pid
  for pid in $pids; do alive "$pid" && fail "pid $pid survived down"; done
  [[ ! -e $dir/pids && ! -e $dir/cluster.env ]] || fail "down left pids or cluster.env"
  [[ -e $dir/node-1.log && -d $dir/node-1 ]] || fail "down removed logs or data"
  run 0 "down again is a no-op" down --dir "$dir" && expect_in "$WORK/out" "no cluster" "down again"
}

test_controllers_only_env() {
  local base=$1 dir=$WORK/c2
  export STUB_STATE=$WORK/state2 STUB_READY_AFTER=1 STUB_BROKERS=0
  mkdir -p "$STUB_STATE"
  run 0 "up 1 controller, no brokers" up --controllers 1 --brokers 0 --dir "$dir" --base-port "$base" || return 0
  if grep -qx "export STRAND_BOOTSTRAP=127.0.0.1:$((base + 1))" "$dir/cluster.env"; then
    echo "ok: bootstrap is the controllers when B=0"
  else
    fail "B=0 bootstrap: $(cat "$dir/cluster.env")"
  fi
  run 0 "down (1 node)" down --dir "$dir" || true
}

test_port_taken() {
  local base=$1
  python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(60)' \
    "$((base + 2))" &
  local holder=$!
  STARTED_PIDS+=("$holder")
  wait_for 10 listening "$((base + 2))" ||
    fail "port holder did not listen"
  export STUB_STATE=$WORK/state3 STUB_READY_AFTER=1 STUB_BROKERS=0
  mkdir -p "$STUB_STATE"
  run 1 "refuses a taken port" up --controllers 3 --dir "$WORK/c3" --base-port "$base" &&
    expect_in "$WORK/err" "$((base + 2))" "taken port named"
  [[ ! -e $WORK/c3/pids ]] || fail "started despite a taken port"
  kill -KILL "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
}

test_not_ready_times_out() {
  local base=$1 dir=$WORK/c4
  export STUB_STATE=$WORK/state4 STUB_READY_AFTER=never STUB_BROKERS=0
  mkdir -p "$STUB_STATE"
  local start=$SECONDS
  run 1 "readiness timeout" up --controllers 2 --dir "$dir" --base-port "$base" --timeout 2 || return 0
  ((SECONDS - start <= 15)) || fail "timeout took $((SECONDS - start)) s"
  expect_in "$WORK/err" "did not serve within 2s" "timeout message"
  expect_in "$WORK/err" "last lines of $dir/node-1.log" "log tails"
  local pid
  while read -r pid; do
    if alive "$pid"; then fail "pid $pid left running after a timeout"; fi
  done < <(cat "$dir"/node-*/pid)
  [[ ! -e $dir/pids ]] || fail "timeout left pids"
}

test_node_dies_during_start() {
  local base=$1 dir=$WORK/c5
  export STUB_STATE=$WORK/state5 STUB_READY_AFTER=never STUB_BROKERS=0
  mkdir -p "$STUB_STATE"
  STUB_SERVER_MODE="exit" run 1 "node exits during start-up" \
    up --controllers 1 --dir "$dir" --base-port "$base" --timeout 20 &&
    expect_in "$WORK/err" "exited during start-up" "dead node message"
}

test_down_with_sleep_standins() {
  local dir=$WORK/c6 other=$WORK/other
  mkdir -p "$dir" "$other"
  dir=$(cd "$dir" && pwd -P)
  # Plain sleeps standing in for nodes: down signals only a PID whose command line names
  # strand-server and --data-dir=DIR/node-ID, so their argv[0] says so. The second ignores
  # SIGTERM, so down must SIGKILL it. The last two must survive: another cluster's node and a
  # process that is no strand-server at all.
  # shellcheck disable=SC2016
  local standin='exec -a "strand-server --data-dir=$0" sleep 300'
  bash -c "$standin" "$dir/node-1" &
  local polite=$!
  bash -c "trap '' TERM; $standin" "$dir/node-2" &
  local stubborn=$!
  bash -c "$standin" "$other/node-3" &
  local foreign=$!
  sleep 300 &
  local bystander=$!
  STARTED_PIDS+=("$polite" "$stubborn" "$foreign" "$bystander")
  wait_for 5 grep -q strand-server "/proc/$stubborn/cmdline" || fail "stand-in did not start"
  printf '1 %s\n2 %s\n3 %s\n4 %s\n5 999999999\n' "$polite" "$stubborn" "$foreign" "$bystander" \
    >"$dir/pids"
  local start=$SECONDS
  run 0 "down with sleep stand-ins" down --dir "$dir" --grace 1 || true
  ((SECONDS - start <= 10)) || fail "down took $((SECONDS - start)) s"
  expect_in "$WORK/err" "node 2 (pid $stubborn) still running after 1s; SIGKILL" "SIGKILL message"
  alive "$polite" && fail "polite stand-in survived"
  alive "$stubborn" && fail "stubborn stand-in survived"
  alive "$foreign" || fail "down killed another cluster's node"
  alive "$bystander" || fail "down killed a process that is not a strand-server"
  [[ ! -e $dir/pids ]] || fail "down left pids"
  kill -KILL "$foreign" "$bystander" 2>/dev/null || true
  wait "$polite" "$stubborn" "$foreign" "$bystander" 2>/dev/null || true
}

test_foreground() {
  local base=$1 dir=$WORK/c7
  export STUB_STATE=$WORK/state7 STUB_READY_AFTER=1 STUB_BROKERS=0
  mkdir -p "$STUB_STATE"
  "$SCRIPT" up --controllers 2 --dir "$dir" --base-port "$base" --foreground \
    >"$WORK/fg.out" 2>"$WORK/fg.err" &
  local script=$!
  STARTED_PIDS+=("$script")
  if ! wait_for 20 grep -qs "Ctrl-C stops the cluster" "$WORK/fg.out"; then
    fail "foreground up did not come up: $(cat "$WORK/fg.err")"
    return 0
  fi
  local pids
  pids=$(cat "$dir"/node-*/pid)
  kill -TERM "$script"
  local code=0
  wait_for 20 eval '! alive '"$script" || fail "foreground script ignored SIGTERM"
  wait "$script" || code=$?
  ((code == 0)) || fail "foreground exit $code after SIGTERM"
  local pid
  for pid in $pids; do alive "$pid" && fail "foreground left pid $pid running"; done
  [[ ! -e $dir/pids ]] || fail "foreground down left pids"
  expect_in "$WORK/fg.out" "stopped the cluster" "foreground down"
  echo "ok: foreground stops the cluster on SIGTERM"

  # Ctrl-C: a background job of this script would ignore SIGINT, so python starts the script
  # with SIGINT at its default, as a terminal's foreground job has it.
  if python3 - "$SCRIPT" "$WORK/c8" "$base" <<'PY'
import os, signal, subprocess, sys, time
script, d, base = sys.argv[1:4]
with open(d + ".out", "w") as out:
    p = subprocess.Popen([script, "up", "--controllers", "1", "--dir", d, "--base-port", base,
                          "--foreground"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and "Ctrl-C" not in open(d + ".out").read():
            time.sleep(0.1)
        node = int(open(d + "/node-1/pid").read())
        p.send_signal(signal.SIGINT)
        code = p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    time.sleep(0.2)
    stat = open("/proc/%d/stat" % node).read().split()[2] if os.path.exists("/proc/%d" % node) else "gone"
    sys.exit(0 if code == 0 and stat in ("gone", "Z") and not os.path.exists(d + "/pids") else 1)
PY
  then
    echo "ok: foreground stops the cluster on SIGINT"
  else
    fail "foreground Ctrl-C: $(cat "$WORK/c8.out")"
  fi
}

main() {
  [[ -x $SCRIPT ]] || { echo "FAIL: $SCRIPT is not executable" >&2; exit 1; }
  export STRAND_BIN_DIR=$STUBS
  make_stubs
  mkdir -p "$WORK/empty"
  local base
  base=$(free_base_port)
  [[ -n $base ]] || { echo "FAIL: no free block of 200 ports" >&2; exit 1; }
  echo "base port $base, work dir $WORK"
  test_usage_errors "$base"
  test_missing_binary "$base"
  test_up_and_down "$base"
  test_controllers_only_env "$base"
  test_port_taken "$base"
  test_not_ready_times_out "$base"
  test_node_dies_during_start "$base"
  test_down_with_sleep_standins
  test_foreground "$base"
  if ((FAILURES > 0)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}

main

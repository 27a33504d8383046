#!/usr/bin/env python3
"""bench/patch-nats-peers.py DIR: patches a writable copy of ../shared/bench/peers (bench/lib.sh
nats_prepare; the shared one is read-only and stays as it is).

nats.sh: NATS_STORE_ROOT (parent of the 3 store dirs, default its WORK), NATS_JS_EXTRA (one more
line in jetstream {}), and its 3 nats-server PIDs go to nats-bench.mjs as NATS_PIDS.
nats-bench.mjs: its line gains async_acked and async_cpu_ticks, the utime+stime (clock ticks,
/proc/PID/stat) of the 3 servers from the start of the async publish phase to its last ack (NaN
when a PID is not a nats-server). Exits 1 when a file no longer has the text a patch expects.
"""
import sys

CPU = """\
// bench/patch-nats-peers.py: utime+stime (clock ticks) of the 3 nats-server in NATS_PIDS.
const cpuPids = (process.env.NATS_PIDS || "").split(" ").filter(Boolean);
const cpuTicks = () => {
  if (cpuPids.length !== 3) return NaN;
  try {
    return cpuPids.reduce((t, p) => {
      if (readFileSync(`/proc/${p}/comm`, "utf8").trim() !== "nats-server") return NaN;
      const s = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");  // f[0] is field 3: utime 14, stime 15
      return t + Number(f[11]) + Number(f[12]);
    }, 0);
  } catch {
    return NaN;
  }
};
const cpu0 = cpuTicks();
"""


def patch(path, edits):
    s = open(path).read()
    for old, new in edits:
        if s.count(old) != 1:
            sys.exit(f"patch-nats-peers.py: {path} changed: expected {old!r} once")
        s = s.replace(old, new)
    open(path, "w").write(s)


d = sys.argv[1]
patch(f"{d}/nats.sh", [
    ('mkdir -p "$WORK/n$i/js"', 'mkdir -p "${NATS_STORE_ROOT:-$WORK}/n$i/js"'),
    ('store_dir: "$WORK/n$i/js"', 'store_dir: "${NATS_STORE_ROOT:-$WORK}/n$i/js"'),
    ("  max_file_store: 8GB\n", "  max_file_store: 8GB\n  ${NATS_JS_EXTRA:-}\n"),
    ("&& NATS_URLS=", '&& NATS_PIDS="${PIDS[*]}" NATS_URLS='),
])
patch(f"{d}/nats-bench.mjs", [
    ("import { connect,", 'import { readFileSync } from "node:fs";\nimport { connect,'),
    ("// Phase 2:", CPU + "// Phase 2:"),
    ("  res.async_failed = failed;\n",
     "  res.async_failed = failed;\n  res.async_acked = acked;\n"
     "  res.async_cpu_ticks = cpuTicks() - cpu0;\n"),
    ("`stream_msgs=${st.state.messages}`",
     "`stream_msgs=${st.state.messages} async_acked=${res.async_acked} "
     "async_cpu_ticks=${res.async_cpu_ticks}`"),
])

#!/usr/bin/env python3
"""The failover drills against real processes (ctest: drill_test; docs/drills.md).

Starts 3 controllers and 3 brokers with scripts/local-cluster.sh up --netns --fault-injection
(every node in its own network namespace, so that network scenarios can cut links with nftables;
brokers serving FaultInjectionService and keeping the power-loss journal, for the disk
scenarios), runs
`strand drill run SCENARIO... --json --seed SEED` and checks every scenario's report: passed,
nothing acknowledged lost, duplicated or reordered, no divergent replica, every fault took
effect, and the acknowledged count equal to the lines of the producers' acknowledgement log,
read back here as an independent count. The cluster is stopped and its namespaces removed even
when a check fails.

Usage: drill_test.py LOCAL_CLUSTER_SH BIN_DIR [--seed N] [--repeat N] [--scenarios a,b|all]
Exit 77 (skipped) when not root or nft is missing.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from drill_support import fail, namespaces, read_ack_log



def check_report(report):
    """True when one scenario's JSON report shows a clean run; prints why not."""
    name = report.get("scenario", "?")
    ok = True
    if not report.get("ok"):
        ok = fail(f"{name}: the drill failed: errors={report.get('errors')} "
                  f"violations={report.get('violations')}")
    for key in ("lost", "duplicated", "reordered", "offset_changed", "divergent_replicas",
                "consumer_offsets_back", "committed_offsets_lost", "consumed_missing",
                "metadata_lost"):
        if report.get(key) != 0:
            ok = fail(f"{name}: {key} = {report.get(key)}")
    if report.get("acknowledged", 0) <= 0:
        ok = fail(f"{name}: nothing was acknowledged")
    faults = report.get("faults", [])
    if not faults:
        ok = fail(f"{name}: no fault was made")
    for f in faults:
        if not f.get("took_effect"):
            ok = fail(f"{name}: fault '{f.get('fault')}' had no effect: {f.get('effect')}")
    # The independent count: the acknowledgement log, line by line.
    path = report.get("ack_log", "")
    try:
        lines = read_ack_log(path)
    except (OSError, ValueError) as e:
        return fail(f"{name}: cannot read the acknowledgement log {path}: {e}")
    values = set()
    for line in lines:
        if line is None or not line[2].startswith(report.get("topic", "") + ":"):
            ok = fail(f"{name}: a malformed acknowledgement log line: {line!r}")
            break
        values.add(line[2])
    if len(lines) != report.get("acknowledged"):
        ok = fail(f"{name}: the report says {report.get('acknowledged')} acknowledged, the "
                  f"acknowledgement log holds {len(lines)}")
    if len(values) != len(lines):
        ok = fail(f"{name}: the acknowledgement log names a record twice")
    return ok



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("script")
    parser.add_argument("bin_dir")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--scenarios", default="all")
    parser.add_argument("--base-port", type=int, default=29000)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None:
        print("SKIP: needs root, ip and nft (scripts/install-deps.sh installs nftables)")
        return 77
    strand = os.path.join(args.bin_dir, "strand")
    listed = json.loads(subprocess.run([strand, "drill", "list", "--json"], capture_output=True,
                                       text=True, check=True).stdout)
    every = [s["scenario"] for s in listed]
    scenarios = every if args.scenarios == "all" else args.scenarios.split(",")
    env = dict(os.environ, STRAND_BIN_DIR=args.bin_dir)
    work = tempfile.mkdtemp(prefix="strand-drill-test-")
    cluster = os.path.join(work, "cluster")
    before = set(namespaces())
    ok = True
    started = time.monotonic()
    try:
        up = subprocess.run([args.script, "up", "--netns", "--fault-injection",
                             "--controllers", "3", "--brokers", "3",
                             "--dir", cluster, "--base-port", str(args.base_port)],
                            env=env, capture_output=True, text=True, timeout=180, check=False)
        if up.returncode != 0:
            print(up.stdout + up.stderr)
            return 1 if fail("local-cluster.sh up --netns failed") else 1
        command = [strand, "drill", "run", *scenarios, "--dir", cluster, "--seed",
                   str(args.seed), "--repeat", str(args.repeat), "--json"]
        print("$ " + " ".join(command), flush=True)
        run = subprocess.run(command, capture_output=True, text=True, env=env,
                             timeout=60 * 60, check=False)
        sys.stdout.write(run.stderr[-20000:])
        reports = []
        for line in run.stdout.splitlines():
            try:
                reports.append(json.loads(line))
            except json.JSONDecodeError:
                ok = fail(f"not a JSON report line: {line!r}")
        ran = [r.get("scenario") for r in reports]
        if ran != scenarios:
            ok = fail(f"scenarios run {ran}, expected {scenarios}")
        for report in reports:
            ok = check_report(report) and ok
            w = report.get("window_ms", {})
            print(f"{report.get('scenario'):20} ok={report.get('ok')} "
                  f"acknowledged={report.get('acknowledged')} lost={report.get('lost')} "
                  f"write window p50/max {w.get('p50')}/{w.get('max')} ms "
                  f"({report.get('duration_s')} s)", flush=True)
            for f in report.get("faults", []):
                print(f"    {f.get('fault')}: {f.get('effect')}; writes "
                      f"{f.get('produce_window_ms')} ms, consumers {f.get('consume_window_ms')} "
                      f"ms, metadata {f.get('admin_window_ms')} ms")
        if run.returncode != (0 if ok else 6) and ok:
            ok = fail(f"strand drill run exited {run.returncode} although every report passed")
        if run.returncode == 0 and not ok:
            ok = fail("strand drill run exited 0 although a report failed")
    finally:
        subprocess.run([args.script, "down", "--dir", cluster], env=env, capture_output=True,
                       timeout=120, check=False)
        left = set(namespaces()) - before
        if left:
            ok = fail(f"namespaces left behind: {sorted(left)}")
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept for the investigation: {work} (node logs in {cluster})")
    print(f"drill_test: {len(scenarios)} scenario(s) in {time.monotonic() - started:.0f} s: "
          f"{'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

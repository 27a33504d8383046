#!/usr/bin/env python3
"""Planted bugs prove the drills (ctest: drill_mutants_test; docs/drills.md "Mutants").

For each planted bug of strand-server-mutants (broker/replica/mutants.h), starts 3 controllers
and 3 brokers from that binary with $STRAND_MUTANT naming the bug (local-cluster.sh up --netns
--fault-injection,
the mutant binary standing in for strand-server), runs the scenario that must catch it on three
seeds, and checks that each run fails with acknowledged records lost, that the report names lost
records, and that every record it names is in the producers' acknowledgement log (it was
acknowledged). The cluster is stopped and its namespaces removed whatever happens.

Usage: drill_mutants_test.py LOCAL_CLUSTER_SH BIN_DIR [--seed N] [--mutants a,b]
Exit 77 (skipped) when not root or nft is missing.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from drill_support import fail, namespaces, read_ack_log

# The planted bug and the scenario that must catch it (broker/replica/mutants.cc says the same).
MUTANTS = {
    "ack-before-replication": "broker-partition",
    "unclean-election": "isr-loss",
    "skip-fsync": "power-loss",
}
SEEDS = 3



def check_caught(mutant, report):
    name = f"{mutant}/{report.get('scenario')} seed {report.get('seed')}"
    ok = True
    if report.get("ok"):
        return fail(f"{name}: the drill passed: the planted bug went unnoticed")
    if report.get("lost", 0) <= 0:
        ok = fail(f"{name}: no acknowledged record reported lost "
                  f"(violations: {report.get('violations')}, errors: {report.get('errors')})")
    named = report.get("lost_records", [])
    if not named:
        ok = fail(f"{name}: the report names no lost record")
    try:
        acknowledged = {line for line in read_ack_log(report.get("ack_log", "")) if line}
    except (OSError, ValueError) as e:
        return fail(f"{name}: cannot read the acknowledgement log: {e}")
    for entry in named:
        m = re.fullmatch(r"partition (\d+) offset (\d+): (\S+)", entry)
        if m is None:
            ok = fail(f"{name}: a lost record named oddly: {entry!r}")
            continue
        partition, offset, shown = int(m.group(1)), int(m.group(2)), m.group(3)
        if not any(p == partition and o == offset and v.startswith(shown + ":")
                   for p, o, v in acknowledged):
            ok = fail(f"{name}: {entry!r} is not in the acknowledgement log")
    if ok:
        print(f"caught: {name}: lost {report.get('lost')}, e.g. {named[0]}", flush=True)
    return ok



def run_mutant(args, mutant, scenario, work):
    bin_dir = os.path.join(work, f"bin-{mutant}")
    os.makedirs(bin_dir)
    os.symlink(os.path.join(args.bin_dir, "strand-server-mutants"),
               os.path.join(bin_dir, "strand-server"))
    os.symlink(os.path.join(args.bin_dir, "strand"), os.path.join(bin_dir, "strand"))
    cluster = os.path.join(work, f"cluster-{mutant}")
    env = dict(os.environ, STRAND_BIN_DIR=bin_dir, STRAND_MUTANT=mutant)
    ok = True
    try:
        up = subprocess.run([args.script, "up", "--netns", "--fault-injection",
                             "--controllers", "3", "--brokers", "3",
                             "--dir", cluster, "--base-port", str(args.base_port)],
                            env=env, capture_output=True, text=True, timeout=180, check=False)
        if up.returncode != 0:
            print(up.stdout + up.stderr)
            return fail(f"{mutant}: local-cluster.sh up --netns failed")
        with open(os.path.join(cluster, "node-101.log"), encoding="utf-8") as log:
            if f"PLANTED BUG ACTIVE: {mutant}" not in log.read():
                ok = fail(f"{mutant}: broker 101 does not say the planted bug is active")
        command = [os.path.join(args.bin_dir, "strand"), "drill", "run",
                   *([scenario] * SEEDS), "--dir", cluster, "--seed", str(args.seed), "--json"]
        print("$ STRAND_MUTANT=" + mutant + " " + " ".join(command), flush=True)
        run = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if run.returncode != 6:
            ok = fail(f"{mutant}: strand drill run exited {run.returncode}, not 6 (drill failed)")
        reports = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
        if len(reports) != SEEDS or {r.get("scenario") for r in reports} != {scenario}:
            ok = fail(f"{mutant}: expected {SEEDS} reports of {scenario}, got "
                      f"{[r.get('scenario') for r in reports]}")
        seeds = {r.get("seed") for r in reports}
        if len(seeds) != SEEDS:
            ok = fail(f"{mutant}: the runs did not use {SEEDS} different seeds: {seeds}")
        for report in reports:
            ok = check_caught(mutant, report) and ok
    finally:
        subprocess.run([args.script, "down", "--dir", cluster], env=env, capture_output=True,
                       timeout=120, check=False)
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("script")
    parser.add_argument("bin_dir")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mutants", default=",".join(MUTANTS))
    parser.add_argument("--base-port", type=int, default=29800)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None:
        print("SKIP: needs root, ip and nft (scripts/install-deps.sh installs nftables)")
        return 77
    work = tempfile.mkdtemp(prefix="strand-drill-mutants-")
    before = set(namespaces())
    started = time.monotonic()
    ok = True
    for mutant in args.mutants.split(","):
        ok = run_mutant(args, mutant, MUTANTS[mutant], work) and ok
    left = set(namespaces()) - before
    if left:
        ok = fail(f"namespaces left behind: {sorted(left)}")
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept for the investigation: {work}")
    print(f"drill_mutants_test: {time.monotonic() - started:.0f} s: {'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

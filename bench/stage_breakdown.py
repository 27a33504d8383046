#!/usr/bin/env python3
"""bench/stage_breakdown.py: where an acks=all produce's time goes, from the brokers' own
histograms (strand_broker_produce_stage_seconds, strand_broker_follower_stage_seconds and
strand_broker_request_seconds{api="Produce"}), scraped from every broker's /metrics.

  stage_breakdown.py snap FILE          every broker's histograms now, as JSON (the brokers'
                                        metrics addresses from STRAND_NODE_<id>_METRICS, which
                                        local-cluster.sh's cluster.env exports; ids >= 100)
  stage_breakdown.py diff BEFORE AFTER  the difference as JSON: per stage, count, mean and the
                                        p50 / p99 / p99.9 / max bucket bounds (ms)

Histograms are summed over the brokers: the leader's produce stages and both followers' stages.
"""
import json
import os
import re
import sys
import urllib.request

FAMILIES = ("strand_broker_produce_stage_seconds", "strand_broker_follower_stage_seconds",
            "strand_broker_request_seconds")
LINE = re.compile(r'^(\w+)_(bucket|sum|count)\{([^}]*)\} (\S+)$')


def labels(text):
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def scrape(address):
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as r:
        body = r.read().decode()
    out = {}
    for line in body.splitlines():
        m = LINE.match(line)
        if not m or m.group(1) not in FAMILIES:
            continue
        lab = labels(m.group(3))
        if m.group(1) == "strand_broker_request_seconds":
            if lab.get("api") != "Produce":
                continue
            key = "broker_produce_request"
        else:
            key = m.group(1).replace("strand_broker_", "").replace("_stage_seconds", "") + \
                "." + lab["stage"]
        h = out.setdefault(key, {"sum": 0.0, "count": 0.0, "buckets": {}})
        if m.group(2) == "bucket":
            le = lab["le"]
            h["buckets"][le] = h["buckets"].get(le, 0.0) + float(m.group(4))
        else:
            h[m.group(2)] += float(m.group(4))
    return out


def snap():
    total = {}
    for k, v in os.environ.items():
        m = re.match(r"STRAND_NODE_(\d+)_METRICS$", k)
        if not m or int(m.group(1)) < 100:
            continue
        for key, h in scrape(v).items():
            t = total.setdefault(key, {"sum": 0.0, "count": 0.0, "buckets": {}})
            t["sum"] += h["sum"]
            t["count"] += h["count"]
            for le, c in h["buckets"].items():
                t["buckets"][le] = t["buckets"].get(le, 0.0) + c
    return total


def quantile(buckets, count, q):
    """The upper bound (ms) of the bucket holding the q-quantile."""
    for le, c in sorted(buckets.items(), key=lambda kv: float(kv[0])):
        if c >= q * count:
            return float(le) * 1000 if le != "+Inf" else float("inf")
    return float("nan")


def diff(before, after):
    out = {}
    for key, a in after.items():
        b = before.get(key, {"sum": 0.0, "count": 0.0, "buckets": {}})
        n = a["count"] - b["count"]
        if n <= 0:
            continue
        buckets = {le: c - b["buckets"].get(le, 0.0) for le, c in a["buckets"].items()}
        out[key] = {"count": int(n), "mean_ms": (a["sum"] - b["sum"]) / n * 1000,
                    "p50_ms": quantile(buckets, n, 0.5), "p99_ms": quantile(buckets, n, 0.99),
                    "p999_ms": quantile(buckets, n, 0.999), "max_ms": quantile(buckets, n, 1.0)}
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "snap":
        with open(sys.argv[2], "w") as f:
            json.dump(snap(), f)
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        print(json.dumps(diff(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])))))
    else:
        sys.exit(__doc__)

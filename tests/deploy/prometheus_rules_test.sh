#!/usr/bin/env bash
# prometheus_rules_test.sh SOURCE_DIR: the monitoring files of deploy/ checked without a cluster.
#
#   1. promtool check rules deploy/prometheus/strand-rules.yml
#   2. promtool test rules deploy/prometheus/tests/*.yml, and every alert of the rules file has a
#      unit test where it fires and one where it stays quiet (an alert added without tests fails);
#      every alert has a severity, a summary, a description and a runbook_url whose file and
#      heading exist
#   3. promtool check config deploy/prometheus/prometheus.yml and prometheus-kubernetes.yml (the
#      latter with its pod discovery swapped for file_sd when promtool, like Debian's, is built
#      without Kubernetes discovery: everything else in it is still checked)
#   4. the PrometheusRule object is what scripts/gen-prometheus-rule.py makes of the rules file
#      (text for text, and the same rules once parsed), its kustomize Component lists it, and
#      (with kubectl) `kubectl kustomize` renders it with the rules unchanged
#   5. deploy/grafana/strand-dashboard.json is a dashboard: unique panel ids, every panel has a
#      query, and every query parses as PromQL (promtool, with Grafana's variables replaced)
#
# Exits 0 when all pass, 1 on the first failure, 77 (ctest SKIP_RETURN_CODE) without promtool.
set -euo pipefail

SRC=${1:?usage: prometheus_rules_test.sh SOURCE_DIR}
SRC=$(cd "$SRC" && pwd)
PROM=$SRC/deploy/prometheus

if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool not found (Debian package prometheus; scripts/install-deps.sh installs it)"
  exit 77
fi
python3 -c 'import yaml' 2>/dev/null || { echo "FAIL: python3-yaml missing (scripts/install-deps.sh)"; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step() { echo "=== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "promtool check rules"
promtool check rules "$PROM/strand-rules.yml" || fail "promtool check rules"

step "promtool test rules"
shopt -s nullglob
tests=("$PROM"/tests/*.yml)
((${#tests[@]} > 0)) || fail "no unit tests in $PROM/tests"
(cd "$PROM/tests" && promtool test rules "${tests[@]}") || fail "promtool test rules"

step "every alert has a firing and a quiet unit test"
python3 - "$PROM/strand-rules.yml" "${tests[@]}" <<'PY' || fail "alerts without unit tests"
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
fires, quiet = set(), set()
for path in sys.argv[2:]:
    for test in yaml.safe_load(open(path)).get("tests", []):
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
missing = [f"{a}: {what}" for a in alerts
           for what, seen in (("no test where it fires", fires), ("no test where it stays quiet", quiet))
           if a not in seen]
unknown = sorted((fires | quiet) - set(alerts))
for m in missing:
    print("  " + m)
for u in unknown:
    print(f"  tests name {u}, which is not an alert of the rules file")
print(f"  {len(alerts)} alerts, each fires and stays quiet in a test" if not missing and not unknown else "")
sys.exit(1 if missing or unknown else 0)
PY

step "every alert has a severity, summary, description and a runbook that exists"
python3 - "$SRC" <<'PY' || fail "alert labels or annotations"
import os, re, sys, yaml
src = sys.argv[1]
rules = yaml.safe_load(open(f"{src}/deploy/prometheus/strand-rules.yml"))
def slug(heading):  # GitHub's heading anchors
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
anchors = {}
bad = []
for g in rules["groups"]:
    for r in g["rules"]:
        if "alert" not in r:
            continue
        a, labels, notes = r["alert"], r.get("labels", {}), r.get("annotations", {})
        if labels.get("severity") not in ("critical", "warning", "info"):
            bad.append(f"{a}: severity {labels.get('severity')!r}")
        for key in ("summary", "description", "runbook_url"):
            if not notes.get(key):
                bad.append(f"{a}: no {key}")
        path, _, anchor = notes.get("runbook_url", "").partition("#")
        if not os.path.exists(os.path.join(src, path)):
            bad.append(f"{a}: runbook {path} does not exist")
            continue
        if path not in anchors:
            anchors[path] = {slug(l.lstrip("#")) for l in open(os.path.join(src, path))
                             if re.match(r"#{1,6} ", l)}
        if anchor not in anchors[path]:
            bad.append(f"{a}: {path} has no heading for #{anchor}")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY

step "promtool check config prometheus.yml"
promtool check config "$PROM/prometheus.yml" || fail "promtool check config prometheus.yml"

step "promtool check config prometheus-kubernetes.yml"
printf 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n' >"$WORK/probe.yml"
if promtool check config "$WORK/probe.yml" >/dev/null 2>&1; then
  promtool check config "$PROM/prometheus-kubernetes.yml" || fail "promtool check config prometheus-kubernetes.yml"
else
  echo "  this promtool has no kubernetes_sd_configs (Debian leaves it out): checking the job with file_sd in its place"
  python3 - "$PROM/prometheus-kubernetes.yml" "$WORK/k8s.yml" <<'PY' || fail "prometheus-kubernetes.yml is not as expected"
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
jobs = config["scrape_configs"]
assert any("kubernetes_sd_configs" in j for j in jobs), "no job uses kubernetes_sd_configs"
for job in jobs:
    sd = job.pop("kubernetes_sd_configs", None)
    if sd is not None:
        assert sd == [{"role": "pod"}], f"{job['job_name']}: unexpected discovery {sd}"
        job["file_sd_configs"] = [{"files": ["targets.yml"]}]
import os
config["rule_files"] = [os.path.join(os.path.dirname(sys.argv[1]), f) for f in config["rule_files"]]
yaml.safe_dump(config, open(sys.argv[2], "w"))
PY
  echo "[]" >"$WORK/targets.yml"
  promtool check config "$WORK/k8s.yml" || fail "promtool check config prometheus-kubernetes.yml (file_sd in place of pod discovery)"
fi

step "PrometheusRule is generated from the rules file"
"$SRC/scripts/gen-prometheus-rule.py" --check || fail "the PrometheusRule object drifted from strand-rules.yml"
python3 - "$SRC" <<'PY' || fail "PrometheusRule object"
import sys, yaml
src = sys.argv[1]
rules = yaml.safe_load(open(f"{src}/deploy/prometheus/strand-rules.yml"))
obj = yaml.safe_load(open(f"{src}/deploy/kubernetes/components/prometheus-rule/prometheusrule.yaml"))
assert obj["apiVersion"] == "monitoring.coreos.com/v1" and obj["kind"] == "PrometheusRule", obj.get("kind")
assert obj["metadata"]["name"], "no name"
assert obj["spec"] == rules, "spec differs from strand-rules.yml once parsed"
kust = yaml.safe_load(open(f"{src}/deploy/kubernetes/components/prometheus-rule/kustomization.yaml"))
assert kust["kind"] == "Component" and kust["resources"] == ["prometheusrule.yaml"], kust
print(f"  {sum(len(g['rules']) for g in rules['groups'])} rules, same as strand-rules.yml")
PY

step "kubectl kustomize renders the Component with the rules unchanged"
if command -v kubectl >/dev/null; then
  mkdir -p "$WORK/kustomize/overlay"
  cp -r "$SRC/deploy/kubernetes/components" "$WORK/kustomize/"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: strand\ncomponents:\n  - ../components/prometheus-rule\n' \
    >"$WORK/kustomize/overlay/kustomization.yaml"
  kubectl kustomize "$WORK/kustomize/overlay" >"$WORK/rendered.yaml" || fail "kubectl kustomize"
  python3 - "$SRC/deploy/prometheus/strand-rules.yml" "$WORK/rendered.yaml" <<'PY' || fail "the rendered PrometheusRule differs from strand-rules.yml"
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
objs = [o for o in yaml.safe_load_all(open(sys.argv[2])) if o and o.get("kind") == "PrometheusRule"]
assert len(objs) == 1, f"{len(objs)} PrometheusRule objects rendered"
assert objs[0]["spec"] == rules, "kustomize changed the rules (a folded YAML scalar with indented lines?)"
print("  rendered: one PrometheusRule, its spec equal to strand-rules.yml")
PY
else
  echo "  kubectl not installed: the kustomize rendering is not checked"
fi

step "Grafana dashboard"
python3 - "$SRC/deploy/grafana/strand-dashboard.json" "$WORK" <<'PY' || fail "dashboard"
import json, sys
d = json.load(open(sys.argv[1]))
assert d.get("title") and d.get("uid"), "title and uid"
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
names = [v["name"] for v in d["templating"]["list"]]
assert "datasource" in names and "cluster" in names, names
exprs = []
for p in d["panels"]:
    if p["type"] == "row":
        continue
    assert p.get("targets"), f"panel {p['title']!r} has no query"
    assert "gridPos" in p, f"panel {p['title']!r} has no gridPos"
    for t in p["targets"]:
        assert t["datasource"]["uid"] == "${datasource}", f"panel {p['title']!r}: datasource"
        exprs.append(t["expr"].replace("$__rate_interval", "1m").replace("$cluster", ".*"))
        assert "$" not in exprs[-1], f"panel {p['title']!r}: unknown variable in {t['expr']}"
# promtool checks PromQL inside rules: one recording rule per query.
rules = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]}]}
json.dump(rules, open(f"{sys.argv[2]}/dashboard-rules.json", "w"))
print(f"  {len(d['panels'])} panels, {len(exprs)} queries")
PY
cp "$WORK/dashboard-rules.json" "$WORK/dashboard-rules.yml"
promtool check rules "$WORK/dashboard-rules.yml" || fail "a dashboard query does not parse"

echo "PASS: prometheus_rules_test"

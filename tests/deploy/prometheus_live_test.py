#!/usr/bin/python3
"""Strand's Prometheus rules and Grafana dashboard against a real Prometheus and a real cluster.

Starts a local cluster (scripts/local-cluster.sh: 3 controllers + 3 brokers on 127.0.0.1, base
port 23000, else 23400, 22200 or 22600) and Debian's Prometheus server
(/usr/bin/prometheus, listening on the base port itself, which the cluster never uses), scraping
every node each second with the rules of deploy/prometheus/strand-rules.yml evaluated each second.
Two jobs scrape every node:
  strand       the job of deploy/prometheus/prometheus.yml, its file_sd targets written from
               cluster.env (cluster="live");
  strand-pods  the job of deploy/prometheus/prometheus-kubernetes.yml with its pod discovery
               replaced by file_sd targets that carry the labels Kubernetes pod discovery sets
               (one target per declared container port, annotations, phase), plus pods it must
               drop: its relabeling must keep exactly one target per Strand pod
               (cluster="k8s-emulated").
Then it checks, each wait a bounded poll:
  1. every target of both jobs is up, the strand-pods relabeling gives the expected labels;
  2. every series docs/metrics.md documents exists (documented_series());
  3. after a topic (RF 3, min.insync.replicas=2) is written and read by a group, every query of
     every Grafana panel returns at least one series, and every alert's expression is false
     (the data-directory ones: as the host's disk says);
  4. a broker SIGKILLed: the StrandUnderReplicatedPartitions expression (read from the rules
     file) becomes true and the alert pending, StrandBrokerFenced pending, StrandProcessDown's
     expression true for its targets;
  5. the broker restarted (its own command line from its log): the expression clears and the
     alert is gone;
  6. two brokers SIGKILLed: the StrandUnderMinIsrPartitions expression becomes true and the alert
     pending; an acks=all write then fails and the dashboard's error panel shows it.
Prometheus and every node are stopped by PID at the end, also on failure and on SIGTERM/SIGINT.

Usage: prometheus_live_test.py SOURCE_DIR BIN_DIR
Exits 0 when every check passed, 1 otherwise, 77 (ctest's SKIP_RETURN_CODE) without
/usr/bin/prometheus.
"""
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from cluster_env import read_cluster_env  # noqa: E402  (tests/tools)

PROMETHEUS = "/usr/bin/prometheus"
# Blocks of 400 ports, tried in turn (a block whose ports are taken is skipped); no other test
# uses 22200-23799 (grpcurl_doc_test: 24000-25199).
BASE_PORTS = [23000, 23400, 22200, 22600]
CONTROLLERS = [1, 2, 3]
BROKERS = [101, 102, 103]
TOPIC = "prom-live"
GROUP = "prom-live-group"
RATE_WINDOW = "15s"  # replaces Grafana's $__rate_interval: 15 samples at a 1 s scrape interval
# A dashboard panel whose queries may be empty while nothing fails; checked after a failure that
# makes it non-empty.
ERROR_PANELS = {"Request errors by API"}

def documented_series(source_dir):
    """The series to check: those named in docs/metrics.md's tables.

    A table row documents the series named (in backquotes) in its first cell, in any of these
    forms: `strand_x`, `strand_x{label="v"}` (that series), `strand_x{label}` (some series with
    that label), `strand_x{label=a|b}` (one series per value); several per cell are fine. A
    "Labels" column adds its backquoted label names (some series of that name has each). Names
    of histogram parts (_bucket, _sum, _count) stand for their histogram. A row that says its
    series "appear with the first" event is not required (Prometheus cannot see a family without
    samples). Returns (PromQL selectors, where they came from, selectors not required)."""
    path = os.path.join(source_dir, "docs", "metrics.md")
    if not os.path.exists(path):
        raise Failure(f"{path} is missing: it documents the series to check")
    series, optional = [], []
    labels_col = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("|"):
                labels_col = None
                continue
            cells = [c.replace("\\|", "|").strip()
                     for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            if labels_col is None and not cells[0].startswith("`"):
                labels_col = next((i for i, c in enumerate(cells) if c.lower() == "labels"), -1)
                continue
            extra = []
            if labels_col is not None and 0 < labels_col < len(cells):
                extra = re.findall(r"`([a-zA-Z_]\w*)`", cells[labels_col])
            for code in re.findall(r"`([^`]*)`", cells[0]):
                m = re.match(r"\s*(strand_[a-zA-Z0-9_:]+)\s*(?:\{([^}]*)\})?\s*$", code)
                if not m:
                    continue
                name = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
                labels = ",".join([l for l in [m.group(2) or ""] + extra if l])
                for selector in selectors(name, labels):
                    if selector not in series:
                        series.append(selector)
                    if re.search(r"appears? with the first", line):
                        optional.append(selector)
    if not series:
        raise Failure(f"{path} documents no strand_* series in a table's first column")
    return series, path, optional


def selectors(name, labels):
    """PromQL selectors for a documented `name{labels}` (see documented_series)."""
    choices = []  # per label: the matchers to try, one selector each
    for item in [i.strip() for i in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', labels) if i.strip()]:
        m = re.match(r'([a-zA-Z_]\w*)\s*(=~|!=|!~|=)?\s*(.*)$', item)
        label, op, value = m.group(1), m.group(2), m.group(3).strip()
        if op is None:
            choices.append([f'{label}!=""'])
        elif value.startswith('"'):
            choices.append([f"{label}{op}{value}"])
        else:  # unquoted: a=x|y, one series per value
            choices.append([f'{label}="{v.strip()}"' for v in value.split("|") if v.strip()])
    out = []
    for combo in itertools.product(*choices):
        out.append(name + ("{" + ",".join(combo) + "}" if combo else ""))
    return out


class Failure(Exception):
    pass


class Test:
    def __init__(self, source_dir, bin_dir):
        self.src = os.path.abspath(source_dir)
        self.bin = os.path.abspath(bin_dir)
        self.tmp = tempfile.mkdtemp(prefix="strand-prom-live-")
        self.cluster_dir = os.path.join(self.tmp, "cluster")
        self.prom = None          # Popen of prometheus
        self.restarted = []       # Popen of brokers this test restarted
        self.cluster_started = False
        self.passed = 0
        self.failures = []        # checks that failed without stopping the test
        self.t0 = time.monotonic()
        with open(os.path.join(self.src, "deploy/prometheus/strand-rules.yml")) as f:
            rules = yaml.safe_load(f)
        self.alert_expr = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]
                           if "alert" in r}

    # ------------------------------------------------------------------------------ helpers
    def log(self, msg):
        print(f"[{time.monotonic() - self.t0:6.1f}s] {msg}", flush=True)

    def ok(self, msg):
        self.passed += 1
        self.log(f"ok: {msg}")

    def soft(self, check, *args):
        """Runs a check whose failure does not stop the test: the checks after it still run,
        and the test fails at the end."""
        try:
            check(*args)
        except Failure as e:
            self.failures.append(str(e))
            self.log(f"FAILED: {e}")

    def poll(self, what, fn, timeout_s, interval_s=0.25):
        """fn() returns a truthy value when done (returned), else falsy; raises on timeout with
        fn's last observation (self.last)."""
        deadline = time.monotonic() + timeout_s
        self.last = None
        while True:
            value = fn()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise Failure(f"{what}: not within {timeout_s}s; last seen: {self.last}")
            time.sleep(interval_s)

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.prom_port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise Failure(f"GET {url}: HTTP {e.code}: {e.read()[:500]!r}")
        if body.get("status") != "success":
            raise Failure(f"GET {url}: {body}")
        return body["data"]

    def query(self, expr):
        return self.api("/api/v1/query", query=expr)["result"]

    def alerts(self, name):
        return [a for a in self.api("/api/v1/alerts")["alerts"]
                if a["labels"].get("alertname") == name]

    def strand(self, *args, stdin=None, timeout_s=30):
        cmd = [os.path.join(self.bin, "strand"), "--bootstrap", self.env["STRAND_BOOTSTRAP"],
               *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                              timeout=timeout_s)

    # ------------------------------------------------------------------------------ set-up
    def pick_base_port(self):
        slots = CONTROLLERS + [b - 90 for b in BROKERS]
        for base in BASE_PORTS:
            ports = [base] + [base + off + s for s in slots for off in (0, 100)] + \
                    [base + off + b - 90 for b in BROKERS for off in (200, 300)]
            if all(self.port_free(p) for p in ports):
                return base
        raise Failure(f"no free port block among {BASE_PORTS}")

    @staticmethod
    def port_free(port):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    def start_cluster(self):
        script = os.path.join(self.src, "scripts/local-cluster.sh")
        env = dict(os.environ, STRAND_BIN_DIR=self.bin)
        env.pop("STRAND_COMMAND_CONFIG", None)
        self.cluster_started = True
        r = subprocess.run([script, "up", "--controllers", str(len(CONTROLLERS)),
                            "--brokers", str(len(BROKERS)), "--dir", self.cluster_dir,
                            "--base-port", str(self.base_port), "--timeout", "60"],
                           env=env, capture_output=True, text=True, timeout=90)
        if r.returncode != 0:
            raise Failure(f"local-cluster.sh up: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        self.env = read_cluster_env(os.path.join(self.cluster_dir, "cluster.env"))
        self.ok(f"cluster up at base port {self.base_port} "
                f"({len(CONTROLLERS)} controllers, {len(BROKERS)} brokers)")

    def metrics_addr(self, node):
        return self.env[f"STRAND_NODE_{node}_METRICS"]

    def write_prometheus_config(self):
        prom_dir = os.path.join(self.src, "deploy/prometheus")
        with open(os.path.join(prom_dir, "prometheus.yml")) as f:
            host_cfg = yaml.safe_load(f)
        with open(os.path.join(prom_dir, "prometheus-kubernetes.yml")) as f:
            k8s_cfg = yaml.safe_load(f)
        (strand_job,) = [j for j in host_cfg["scrape_configs"] if j["job_name"] == "strand"]
        (pods_job,) = [j for j in k8s_cfg["scrape_configs"] if j["job_name"] == "strand-pods"]
        assert pods_job.pop("kubernetes_sd_configs") == [{"role": "pod"}]

        # The strand job as shipped, its targets file written from cluster.env.
        targets = os.path.join(self.tmp, "strand-targets.yml")
        strand_job["file_sd_configs"] = [{"files": [targets]}]
        with open(targets, "w") as f:
            yaml.safe_dump([
                {"targets": [self.metrics_addr(n) for n in CONTROLLERS],
                 "labels": {"cluster": "live", "component": "controller"}},
                {"targets": [self.metrics_addr(n) for n in BROKERS],
                 "labels": {"cluster": "live", "component": "broker"}}], f)

        # The strand-pods job, fed what pod discovery would find in Kubernetes.
        pods = os.path.join(self.tmp, "pods.yml")
        pods_job["file_sd_configs"] = [{"files": [pods]}]
        with open(pods, "w") as f:
            yaml.safe_dump(self.emulated_pods(), f)

        for job in (strand_job, pods_job):
            job["scrape_interval"] = "1s"
            job["scrape_timeout"] = "1s"
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [os.path.join(prom_dir, "strand-rules.yml")],
                  "scrape_configs": [strand_job, pods_job]}
        self.prom_config = os.path.join(self.tmp, "prometheus.yml")
        with open(self.prom_config, "w") as f:
            yaml.safe_dump(config, f)

    def emulated_pods(self):
        """Target groups as Kubernetes pod discovery makes them: one per declared container port
        of each pod, with the pod's labels, annotations and phase. Strand's six pods, plus pods the
        job must drop (not annotated, another application, still pending)."""
        groups = []

        def pod(name, component, metrics_addr, ports, app="strand", scrape="true",
                phase="Running"):
            host, metrics_port = metrics_addr.rsplit(":", 1)
            for port in ports:
                groups.append({"targets": [f"{host}:{port}"], "labels": {
                    "__meta_kubernetes_namespace": "strand-test",
                    "__meta_kubernetes_pod_name": name,
                    "__meta_kubernetes_pod_phase": phase,
                    "__meta_kubernetes_pod_ip": host,
                    "__meta_kubernetes_pod_label_app_kubernetes_io_name": app,
                    "__meta_kubernetes_pod_label_app_kubernetes_io_component": component,
                    "__meta_kubernetes_pod_label_app_kubernetes_io_instance": "k8s-emulated",
                    "__meta_kubernetes_pod_annotation_prometheus_io_scrape": scrape,
                    "__meta_kubernetes_pod_annotation_prometheus_io_port": metrics_port,
                    "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
                    "__meta_kubernetes_pod_container_name": "strand",
                    "__meta_kubernetes_pod_container_port_number": str(port)}})

        self.expected_pods = {}
        for i, node in enumerate(CONTROLLERS):
            name = f"strand-controller-{i}"
            addr = self.metrics_addr(node)
            ctl_port = self.env[f"STRAND_NODE_{node}_ADDR"].rsplit(":", 1)[1]
            pod(name, "controller", addr, [ctl_port, addr.rsplit(":", 1)[1]])
            self.expected_pods[name] = (addr, "controller")
        for i, node in enumerate(BROKERS):
            name = f"strand-broker-{i}"
            addr = self.metrics_addr(node)
            ports = [self.env[f"STRAND_NODE_{node}_{k}"].rsplit(":", 1)[1]
                     for k in ("ADDR", "CONTROLLER_ADDR", "REPLICATION_ADDR")]
            pod(name, "broker", addr, ports + [addr.rsplit(":", 1)[1]])
            self.expected_pods[name] = (addr, "broker")
        some = self.metrics_addr(BROKERS[0])
        pod("not-annotated", "broker", some, [9], scrape="false")
        pod("other-app", "web", some, [9], app="other")
        pod("strand-broker-9", "broker", some, [9], phase="Pending")
        return groups

    def start_prometheus(self):
        self.prom_port = self.base_port
        self.prom_log = os.path.join(self.tmp, "prometheus.log")
        with open(self.prom_log, "w") as log:
            self.prom = subprocess.Popen(
                [PROMETHEUS, f"--config.file={self.prom_config}",
                 f"--storage.tsdb.path={os.path.join(self.tmp, 'tsdb')}",
                 f"--web.listen-address=127.0.0.1:{self.prom_port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def ready():
            if self.prom.poll() is not None:
                raise Failure(f"prometheus exited with {self.prom.returncode}")
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.prom_port}/-/ready", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError) as e:
                self.last = e
                return False
        self.poll("prometheus ready", ready, 30)
        self.ok(f"prometheus {self.prom.pid} ready on 127.0.0.1:{self.prom_port}")

    # ------------------------------------------------------------------------------ checks
    def check_targets(self):
        want = {"strand": len(CONTROLLERS) + len(BROKERS), "strand-pods": len(self.expected_pods)}

        def all_up():
            data = self.api("/api/v1/targets", state="any")
            active = data["activeTargets"]
            by_job = {}
            for t in active:
                by_job.setdefault(t["labels"]["job"], []).append(t)
            self.last = {j: [(t["labels"]["instance"], t["health"], t.get("lastError"))
                             for t in ts] for j, ts in by_job.items()}
            if {j: len(ts) for j, ts in by_job.items()} != want:
                return None
            return data if all(t["health"] == "up" for t in active) else None
        data = self.poll("every target up", all_up, 30)
        self.ok(f"all {sum(want.values())} targets up ({want})")

        pods = {}
        for t in data["activeTargets"]:
            if t["labels"]["job"] == "strand-pods":
                pods[t["labels"]["pod"]] = t["labels"]
        for name, (addr, component) in self.expected_pods.items():
            labels = pods.get(name)
            want_labels = {"instance": addr, "cluster": "k8s-emulated",
                           "namespace": "strand-test", "component": component}
            if labels is None or any(labels.get(k) != v for k, v in want_labels.items()):
                raise Failure(f"strand-pods: pod {name}: labels {labels}, want {want_labels}")
        dropped = {t["discoveredLabels"].get("__meta_kubernetes_pod_name")
                   for t in data["droppedTargets"]}
        for name in ("not-annotated", "other-app", "strand-broker-9"):
            if name not in dropped:
                raise Failure(f"strand-pods: pod {name} should have been dropped; dropped: {dropped}")
        self.ok("strand-pods relabeling: one target per Strand pod at its prometheus.io/port, "
                "cluster/namespace/pod/component labels, other pods dropped")

    def check_documented_series(self):
        series, origin, optional = documented_series(self.src)
        if optional:
            self.log(f"not required (documented as appearing with their first event): {optional}")

        def all_present():
            names = set(self.api("/api/v1/label/__name__/values"))
            missing = []
            for sel in series:
                if sel in optional:
                    continue
                name = sel.split("{", 1)[0]
                if name + "_bucket" in names:
                    sel = name + "_bucket" + sel[len(name):]
                elif name not in names:
                    missing.append(sel)
                    continue
                if "{" in sel:
                    name, labels = sel.split("{", 1)
                    if not self.query(f'count({name}{{cluster="live",{labels})'):
                        missing.append(sel)
            self.last = f"missing: {missing}"
            return not missing
        self.poll(f"every series documented in {origin}", all_present, 30, interval_s=1)
        self.ok(f"all {len(series) - len(optional)} series documented in {origin} exist")

    def dashboard_queries(self):
        with open(os.path.join(self.src, "deploy/grafana/strand-dashboard.json")) as f:
            dash = json.load(f)
        out = []
        for p in dash["panels"]:
            for t in p.get("targets", []):
                expr = t["expr"].replace("$__rate_interval", RATE_WINDOW)
                expr = expr.replace('cluster=~"$cluster"', 'cluster="live"')
                if "$" in expr:
                    raise Failure(f"panel {p['title']!r}: variable left in {expr}")
                out.append((p["title"], expr))
        return out

    def check_dashboard(self, panels):
        def all_answer():
            empty = [f"{title}: {expr}" for title, expr in panels if not self.query(expr)]
            self.last = f"empty: {empty}"
            return not empty
        self.poll("every dashboard query returns a series", all_answer, 40, interval_s=1)
        self.ok(f"{len(panels)} dashboard queries each return a series: "
                + ", ".join(sorted({t for t, _ in panels})))

    def check_healthy_quiet(self):
        """On the healthy cluster every alert's expression is false (no false alarm), except the
        data-directory ones, which must say what the host's disk says."""
        st = os.statvfs(self.cluster_dir)
        free = st.f_bavail / st.f_blocks
        want_true = {"StrandLogDirFilling": free < 0.15, "StrandLogDirAlmostFull": free < 0.05}

        def quiet():
            wrong = []
            for alert, expr in self.alert_expr.items():
                result = [r for r in self.query(expr) if r["metric"].get("cluster") in (None, "live")]
                if bool(result) != want_true.get(alert, False):
                    wrong.append(f"{alert}: {result}")
            self.last = wrong
            return not wrong
        self.poll("every alert expression false on the healthy cluster", quiet, 20, interval_s=1)
        self.ok(f"healthy cluster: all {len(self.alert_expr)} alert expressions as expected "
                f"(false; {free:.0%} of the data directory's file system is free to it)")

    def expr_true(self, alert):
        result = self.query(self.alert_expr[alert])
        self.last = result
        return [r for r in result if r["metric"].get("cluster") == "live"]

    def alert_state(self, alert, states=("pending", "firing")):
        found = [a for a in self.alerts(alert) if a["labels"].get("cluster") == "live"
                 and a["state"] in states]
        self.last = self.alerts(alert)
        return found

    def kill(self, node):
        pid = int(self.env[f"STRAND_NODE_{node}_PID"])
        os.kill(pid, signal.SIGKILL)
        self.log(f"SIGKILL broker {node} (pid {pid})")

    def restart_broker(self, node):
        """Starts the broker again with the command line local-cluster.sh gave it (the last '==='
        line of its log), and lists it in the cluster's pids file so `down` stops it too."""
        log_path = os.path.join(self.cluster_dir, f"node-{node}.log")
        with open(log_path) as f:
            lines = [l for l in f if l.startswith("=== ") and " strand-server " in l]
        args = lines[-1].split(" strand-server ", 1)[1].split()
        with open(log_path, "a") as log:
            p = subprocess.Popen([os.path.join(self.bin, "strand-server"), *args],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.restarted.append(p)
        with open(os.path.join(self.cluster_dir, "pids"), "a") as f:
            f.write(f"{node} {p.pid}\n")
        self.env[f"STRAND_NODE_{node}_PID"] = str(p.pid)
        self.log(f"restarted broker {node} (pid {p.pid})")

    # ------------------------------------------------------------------------------- the test
    def run(self):
        self.base_port = self.pick_base_port()
        self.start_cluster()
        self.write_prometheus_config()
        self.start_prometheus()
        self.check_targets()

        # A topic, written and read by a group that leaves a lag.
        r = self.strand("topics", "create", TOPIC, "--partitions", "3", "--replication-factor", "3",
                        "--config", "min.insync.replicas=2")
        if r.returncode != 0:
            raise Failure(f"topics create: exit {r.returncode}: {r.stdout}{r.stderr}")
        records = "".join(f"k{i}:record {i}\n" for i in range(300))
        r = self.strand("produce", "--topic", TOPIC, "--key-separator", ":", stdin=records)
        if r.returncode != 0:
            raise Failure(f"produce: exit {r.returncode}: {r.stdout}{r.stderr}")
        r = self.strand("consume", "--topic", TOPIC, "--group", GROUP, "--from-beginning",
                        "--max-records", "100", "--idle-timeout-ms", "10000")
        if r.returncode != 0:
            raise Failure(f"consume: exit {r.returncode}: {r.stderr}")
        self.ok(f"topic {TOPIC} (RF 3, min.insync.replicas=2): 300 records written, "
                f"group {GROUP} read and committed 100")

        self.soft(self.check_documented_series)
        panels = self.dashboard_queries()
        self.soft(self.check_dashboard, [p for p in panels if p[0] not in ERROR_PANELS])
        self.soft(self.check_healthy_quiet)

        # One broker down: under-replicated partitions.
        self.kill(BROKERS[2])
        self.poll("StrandUnderReplicatedPartitions expression true", lambda: self.expr_true(
            "StrandUnderReplicatedPartitions"), 30)
        self.poll("StrandUnderReplicatedPartitions pending", lambda: self.alert_state(
            "StrandUnderReplicatedPartitions"), 15)
        self.ok("broker down: StrandUnderReplicatedPartitions expression true, alert pending")
        self.poll("StrandBrokerFenced pending", lambda: self.alert_state("StrandBrokerFenced"), 15)
        down = f'{self.metrics_addr(BROKERS[2])}'

        def process_down():
            result = self.query(self.alert_expr["StrandProcessDown"])
            self.last = result
            return {r["metric"]["job"] for r in result if r["metric"]["instance"] == down} == \
                {"strand", "strand-pods"}
        self.poll("StrandProcessDown expression true for the broker", process_down, 15)
        self.ok("broker down: StrandBrokerFenced pending, StrandProcessDown true for its targets")

        # Back: the expression clears once it rejoins the ISRs.
        self.restart_broker(BROKERS[2])

        def cleared():
            if self.expr_true("StrandUnderReplicatedPartitions"):
                return False
            counts = self.query('max by (cluster) '
                                '(strand_controller_partitions{cluster="live",state="under_replicated"})')
            self.last = counts
            return counts and all(float(c["value"][1]) == 0 for c in counts) and \
                not self.alert_state("StrandUnderReplicatedPartitions")
        self.poll("StrandUnderReplicatedPartitions clears after the restart", cleared, 60)
        self.ok("broker back: StrandUnderReplicatedPartitions expression false, alert gone")

        # Two brokers down: under min ISR.
        self.kill(BROKERS[1])
        self.kill(BROKERS[2])
        self.poll("StrandUnderMinIsrPartitions expression true", lambda: self.expr_true(
            "StrandUnderMinIsrPartitions"), 30)
        self.poll("StrandUnderMinIsrPartitions pending", lambda: self.alert_state(
            "StrandUnderMinIsrPartitions"), 15)
        self.ok("two brokers down: StrandUnderMinIsrPartitions expression true, alert pending")

        # An acks=all write now fails (NOT_ENOUGH_REPLICAS): the error panel shows it.
        r = self.strand("produce", "--topic", TOPIC, "--timeout-ms", "3000", stdin="refused\n",
                        timeout_s=30)
        if r.returncode == 0:
            raise Failure("an acks=all write succeeded with two of three replicas down")
        self.soft(self.check_dashboard, [p for p in panels if p[0] in ERROR_PANELS])
        if self.failures:
            raise Failure(f"{len(self.failures)} check(s) failed:\n  " + "\n  ".join(self.failures))

    def cleanup(self):
        if self.cluster_started:
            script = os.path.join(self.src, "scripts/local-cluster.sh")
            subprocess.run([script, "down", "--dir", self.cluster_dir, "--grace", "5"],
                           capture_output=True, timeout=120)
        for p in self.restarted:
            if p.poll() is None:
                p.kill()
            p.wait()
        if self.prom is not None and self.prom.poll() is None:
            self.prom.terminate()
            try:
                self.prom.wait(10)
            except subprocess.TimeoutExpired:
                self.prom.kill()
                self.prom.wait()

    def dump_logs(self):
        for path in [getattr(self, "prom_log", None)] + [
                os.path.join(self.cluster_dir, f"node-{n}.log") for n in CONTROLLERS + BROKERS]:
            if path and os.path.exists(path):
                with open(path, errors="replace") as f:
                    tail = f.readlines()[-15:]
                print(f"--- last lines of {path}", file=sys.stderr)
                sys.stderr.writelines(tail)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.access(PROMETHEUS, os.X_OK):
        print(f"SKIP: {PROMETHEUS} not found (Debian package prometheus; "
              "scripts/install-deps.sh installs it)")
        return 77
    for binary in ("strand-server", "strand"):
        if not os.access(os.path.join(sys.argv[2], binary), os.X_OK):
            print(f"FAIL: {os.path.join(sys.argv[2], binary)} not found (build it)", file=sys.stderr)
            return 1
    test = Test(sys.argv[1], sys.argv[2])

    def on_signal(signum, _frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = 1
    try:
        test.run()
        status = 0
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        test.dump_logs()
    finally:
        test.cleanup()
        if status == 0:
            shutil.rmtree(test.tmp, ignore_errors=True)
        else:
            print(f"(files kept in {test.tmp})", file=sys.stderr)
    test.log(f"{test.passed} checks passed" + ("" if status == 0 else "; FAILED"))
    return status


if __name__ == "__main__":
    sys.exit(main())

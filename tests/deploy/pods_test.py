#!/usr/bin/python3
"""Pods made from the rendered manifests run as a Strand cluster on this machine.

Renders an overlay of deploy/kubernetes (kubectl kustomize) and starts every pod of its
StatefulSets the way the kubelet would, from the rendered objects alone: the container's
command and args, its environment in order with Kubernetes' $(VAR) expansion and the downward
API fields it asks for (metadata.name, metadata.namespace, metadata.labels[...] with the labels
a StatefulSet pod gets: apps.kubernetes.io/pod-index, statefulset.kubernetes.io/pod-name, and
topology.kubernetes.io/zone where the cluster copies it: brokers 0 and 1 have zones, broker 2
has none), its volumes (the ConfigMap's files, a directory per PersistentVolumeClaim and
emptyDir, a projected volume's Secret items) at their mount paths. The binary named by the
command is taken from BIN_DIR (build/bin).

All pods use the same ports, so each gets a loopback address of its own (controllers
127.0.X.11.., brokers 127.0.X.21..; X is 0 for dev, 1 for prod), and three things are rewritten
in the settings, environment and arguments, nothing else: a pod's DNS name under its headless
Service becomes its address, the wildcard 0.0.0.0 (a pod's own interfaces) becomes the pod's
own address, and a path under a mount path becomes the pod's directory for that volume. A
DNS name of the cluster left over (one no pod has) fails the test.

Then it probes exactly what the manifests name: the startup, liveness and readiness probes
(HTTP path and port from the pod spec), the Prometheus annotations' port and path, and the
strand-bootstrap Service's port on the pods it selects, with the strand CLI: cluster describe
(node ids from the pod index, voters and advertised listeners at the pods' addresses, racks
from the zone label, no static setting differing between the roles' ConfigMaps), a topic
created with the ConfigMaps' defaults (3 partitions, replication factor 3), records produced
and consumed back. A broker is deleted and recreated as a rolling restart does (SIGTERM, exit
0 within terminationGracePeriodSeconds after the preStop pause, same volume, ready again). With
the dev overlay the brokers are scaled up and down as deploy/kubernetes/README.md says: a
fourth pod joins as node 103 and takes a replica; the README's own shell loop (run as written,
with jq) finds its partitions, they are moved away, the pod stops, and the broker is
unregistered through AdminService/UnregisterBroker (Python's grpcio; the CLI has no command for
it). At the end every pod stops with exit 0 within its grace period.

With the prod overlay every listener is mTLS: certificates are made with scripts/make-certs.sh
for the node id each rendered cert-manager Certificate names (its commonName strand-node-<id>,
with the pods' addresses as names, since DNS names are rewritten to them), placed in the
Secrets the Certificates name under the keys the pods read (tls-combined.pem, ca.crt), and the
CLI presents the strand-admin Certificate's client certificate.

/healthz and /readyz are asserted when the server has them (the strings are in the binary);
an older strand-server gets /metrics asserted in their place, and the test says so.

Usage: pods_test.py SOURCE_DIR BIN_DIR WORK_DIR --overlay dev|prod
Prints "N passed, M failed"; exit 0 only when all passed, 77 (skip) without kubectl.
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_render as kr  # noqa: E402

NAMESPACE = "strand"
DOMAIN = "svc.cluster.local"
ZONES = {0: "zone-a", 1: "zone-b"}  # broker index -> zone label; broker 2 has none
# The test's own bounds (the pods' probes allow far more): every pod started within
# STARTUP_BUDGET_S of the first start, every pod ready within READY_BUDGET_S after that.
STARTUP_BUDGET_S = 60
READY_BUDGET_S = 60
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAIL: {what}")
    return cond


def die(what):
    check(False, what)
    raise SystemExit(finish())


def finish():
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def pdeathsig():
    # The pods die with the test, even when it is killed (ctest's timeout).
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def poll(what, budget_s, fn, interval_s=0.25):
    """fn() until it returns something truthy, at most budget_s; its last value."""
    deadline = time.monotonic() + budget_s
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            if not value:
                print(f"  (gave up waiting for {what} after {budget_s} s)")
            return value
        time.sleep(interval_s)


class Pod:
    def __init__(self, sts, index, addr, work):
        self.sts, self.index, self.addr = sts, index, addr
        self.name = f"{sts['metadata']['name']}-{index}"
        self.service = sts["spec"]["serviceName"]
        self.template = sts["spec"]["template"]
        self.container = self.template["spec"]["containers"][0]
        self.dir = os.path.join(work, "pods", self.name)
        self.labels = dict(self.template["metadata"].get("labels", {}))
        self.labels["apps.kubernetes.io/pod-index"] = str(index)
        self.labels["statefulset.kubernetes.io/pod-name"] = self.name
        self.proc = None
        self.log = os.path.join(work, f"{self.name}.log")

    def dns_names(self):
        base = f"{self.name}.{self.service}"
        return [f"{base}.{NAMESPACE}.{DOMAIN}", f"{base}.{NAMESPACE}.svc", base]

    def port(self, port):
        if isinstance(port, int):
            return port
        hit = [p["containerPort"] for p in self.container.get("ports", []) if p["name"] == port]
        if not hit:
            die(f"{self.name}: no container port named {port}")
        return hit[0]


class Cluster:
    def __init__(self, objects, work, octet, bin_dir, secrets):
        self.objects, self.work, self.bin_dir, self.secrets = objects, work, bin_dir, secrets
        self.pods = []
        sets = sorted(kr.find(objects, "StatefulSet"), key=lambda s: s["metadata"]["name"] != "strand-controller")
        for n, sts in enumerate(sets):
            replicas = sts["spec"].get("replicas", 1)
            if replicas > 9:
                die(f"{sts['metadata']['name']}: {replicas} replicas; this test gives at most 9 "
                    "addresses per StatefulSet")
            for i in range(replicas):
                self.pods.append(Pod(sts, i, f"127.0.{octet}.{11 + 10 * n + i}", work))
        self.hosts = sorted(((name, p.addr) for p in self.pods for name in p.dns_names()),
                            key=lambda h: -len(h[0]))

    def component(self, name):
        return [p for p in self.pods if p.sts["metadata"]["name"] == name]

    # The three rewrites: DNS names, the wildcard, mount paths.
    def rewrite(self, pod, value, mounts):
        for name, addr in self.hosts:
            value = value.replace(name, addr)
        value = value.replace("0.0.0.0", pod.addr)
        if mounts:
            # One pass, deepest mount first, so that a replaced path is not replaced again.
            alt = "|".join(re.escape(m.rstrip("/")) for m in sorted(mounts, key=len, reverse=True))
            local = {m.rstrip("/"): d for m, d in mounts.items()}
            value = re.sub(r"(^|[=,\s])(" + alt + r")(?=/|$|,)",
                           lambda m: m.group(1) + local[m.group(2)], value)
        if "cluster.local" in value or re.search(r"\.svc\b", value):
            die(f"{pod.name}: {value!r} names a cluster host that no pod of the manifests has")
        return value

    def volumes(self, pod):
        """Lays out the pod's volumes; {mountPath: local directory}."""
        spec = pod.template["spec"]
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {t["metadata"]["name"] for t in pod.sts["spec"].get("volumeClaimTemplates", [])}
        mounts = {}
        for m in pod.container.get("volumeMounts", []):
            if "subPath" in m or "subPathExpr" in m:
                die(f"{pod.name}: subPath mounts are not modelled by this test")
            local = os.path.join(pod.dir, "volumes", m["name"])
            mounts[m["mountPath"]] = local
            if os.path.isdir(local) and m["name"] in claims:
                continue  # a PersistentVolumeClaim keeps its data across restarts
            os.makedirs(local, exist_ok=True)
            if m["name"] in claims:
                continue
            v = vols.get(m["name"])
            if v is None:
                die(f"{pod.name}: volumeMount {m['name']} has no volume")
            if "emptyDir" in v:
                continue
            files = {}
            if "configMap" in v:
                cm = kr.one(self.objects, "ConfigMap", v["configMap"]["name"])
                files = self.items(cm["data"], v["configMap"].get("items"))
            elif "projected" in v:
                for src in v["projected"]["sources"]:
                    if "secret" not in src:
                        die(f"{pod.name}: projected source {list(src)} is not modelled")
                    name = src["secret"]["name"]
                    if name not in self.secrets:
                        die(f"{pod.name}: Secret {name} comes from no Certificate of the overlay")
                    files.update(self.items(self.secrets[name], src["secret"].get("items")))
            elif "secret" in v:
                name = v["secret"]["secretName"]
                if name not in self.secrets:
                    die(f"{pod.name}: Secret {name} comes from no Certificate of the overlay")
                files = self.items(self.secrets[name], v["secret"].get("items"))
            else:
                die(f"{pod.name}: volume {m['name']} of a kind this test does not model: {v}")
            for rel, content in files.items():
                path = os.path.join(local, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(content)
        # Now that every mount is known: a ConfigMap's properties get the rewrites.
        for m in pod.container.get("volumeMounts", []):
            v = vols.get(m["name"], {})
            if "configMap" not in v:
                continue
            local = mounts[m["mountPath"]]
            for rel in os.listdir(local):
                path = os.path.join(local, rel)
                if not rel.endswith(".properties"):
                    continue
                with open(path) as f:
                    lines = f.read().splitlines()
                out = []
                for line in lines:
                    s = line.strip()
                    if s and s[0] not in "#!":
                        line = self.rewrite(pod, line, mounts)
                    out.append(line)
                with open(path, "w") as f:
                    f.write("\n".join(out) + "\n")
        return mounts

    @staticmethod
    def items(data, items):
        if not items:
            return dict(data)
        out = {}
        for it in items:
            if it["key"] not in data:
                die(f"key {it['key']} is not in the volume's source")
            out[it["path"]] = data[it["key"]]
        return out

    def field(self, pod, path):
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if m:
            src = pod.labels if m.group(1) == "labels" else pod.template["metadata"].get(
                "annotations", {})
            return src.get(m.group(2), "")  # the kubelet gives "" for a missing key
        fixed = {"metadata.name": pod.name, "metadata.namespace": NAMESPACE,
                 "status.podIP": pod.addr}
        if path not in fixed:
            die(f"{pod.name}: fieldRef {path} is not modelled by this test")
        return fixed[path]

    def start(self, pod):
        mounts = self.volumes(pod)
        env = {}
        for e in pod.container.get("env", []):
            if "value" in e:
                env[e["name"]] = kr.expand_dependent(e["value"], env)
            elif "fieldRef" in e.get("valueFrom", {}):
                env[e["name"]] = self.field(pod, e["valueFrom"]["fieldRef"]["fieldPath"])
            else:
                die(f"{pod.name}: env {e['name']} from {e.get('valueFrom')} is not modelled")
        env = {k: self.rewrite(pod, v, mounts) for k, v in env.items()}
        argv = [kr.expand_dependent(a, env) for a in pod.container.get("command", [])
                + pod.container.get("args", [])]
        binary = os.path.join(self.bin_dir, os.path.basename(argv[0]))
        if not os.access(binary, os.X_OK):
            die(f"{pod.name}: command {argv[0]} is not in {self.bin_dir}")
        argv = [binary] + [self.rewrite(pod, a, mounts) for a in argv[1:]]
        pod.env, pod.argv = env, argv
        with open(pod.log, "a") as log:
            log.write(f"=== {' '.join(argv)}\n=== env {json.dumps(env)}\n")
            log.flush()
            pod.proc = subprocess.Popen(argv, env={"PATH": "/usr/bin:/bin", **env}, cwd=pod.dir,
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        preexec_fn=pdeathsig)
        pod.started = time.monotonic()

    def stop(self, pod, grace_s):
        """SIGTERM after the preStop pause; (exit code, seconds to exit) or (None, grace)."""
        t0 = time.monotonic()
        pod.proc.send_signal(signal.SIGTERM)
        try:
            code = pod.proc.wait(timeout=grace_s)
            return code, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            pod.proc.kill()
            pod.proc.wait()
            return None, grace_s

    def cleanup(self):
        alive = [p for p in self.pods if p.proc and p.proc.poll() is None]
        for p in alive:
            p.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in alive:
            try:
                p.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()

    def tail(self, pod, n=15):
        try:
            with open(pod.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


def http_get(addr, port, path, timeout_s):
    try:
        with urllib.request.urlopen(f"http://{addr}:{port}{path}", timeout=timeout_s) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, ValueError) as e:
        return None, str(e)


def probe(pod, name):
    """(succeeded, status, body) of the container's probe `name`, once, as the kubelet does."""
    p = pod.container.get(name)
    if not p or "httpGet" not in p:
        die(f"{pod.name}: {name} is not an HTTP probe")
    get = p["httpGet"]
    status, body = http_get(pod.addr, pod.port(get["port"]), get["path"], p.get("timeoutSeconds", 1))
    return status is not None and 200 <= status < 400, status, body


def make_secrets(objects, src, work, addrs):
    """Secret contents for the overlay's cert-manager Certificates, made with make-certs.sh."""
    certs = kr.find(objects, "Certificate")
    if not certs:
        return {}, None
    nodes, clients = {}, {}
    for c in certs:
        cn = c["spec"].get("commonName", "")
        m = re.fullmatch(r"strand-node-(\d+)", cn)
        (nodes if m else clients)[c["spec"]["secretName"]] = m.group(1) if m else cn
    d = os.path.join(work, "certs")
    cmd = ["bash", os.path.join(src, "scripts", "make-certs.sh"), "--dir", d,
           "--nodes", ",".join(sorted(set(nodes.values()))), "--hosts", ",".join(addrs)]
    if clients:
        cmd += ["--clients", ",".join(sorted(set(clients.values())))]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        die(f"make-certs.sh failed: {p.stderr.strip()}")
    read = lambda f: open(os.path.join(d, f)).read()
    secrets = {}
    for secret, node in nodes.items():
        secrets[secret] = {"tls-combined.pem": read(f"node-{node}.pem"), "ca.crt": read("ca.pem")}
    for secret, name in clients.items():
        secrets[secret] = {"tls-combined.pem": read(f"client-{name}.pem"), "ca.crt": read("ca.pem")}
    client = None
    if clients:
        name = sorted(clients.values())[0]
        client = os.path.join(work, "client.properties")
        with open(client, "w") as f:
            f.write(f"security.protocol=ssl\nssl.ca.location={d}/ca.pem\n"
                    f"ssl.certificate.location={d}/client-{name}.pem\n"
                    f"ssl.key.location={d}/client-{name}.pem\n")
    return secrets, client


def unregister_broker(addr, broker_id):
    """AdminService/UnregisterBroker with Python's grpcio and raw protobuf bytes (the strand CLI
    has no command for it); (ok, error name)."""
    import grpc
    varint = lambda n: bytes([(n >> (7 * i) & 0x7F) | (0x80 if n >> (7 * (i + 1)) else 0)
                              for i in range(max(1, (n.bit_length() + 6) // 7))])
    with grpc.insecure_channel(addr) as channel:
        call = channel.unary_unary("/strand.admin.v1.AdminService/UnregisterBroker")
        resp = call(b"\x08" + varint(broker_id), timeout=10)
    # UnregisterBrokerResponse{Error error = 1}; Error{int32 code = 1; string name = 2; ...}.
    if not resp:
        return True, ""
    inner = resp[2:2 + resp[1]] if resp[0] == 0x0A else b""
    code, name, i = 0, "", 0
    while i < len(inner):
        tag = inner[i]
        if tag == 0x08:
            code, i = inner[i + 1], i + 2
        elif tag in (0x12, 0x1A):
            n = inner[i + 1]
            if tag == 0x12:
                name = inner[i + 2:i + 2 + n].decode()
            i += 2 + n
        else:
            break
    return code == 0, name


def readme_block(src, starts):
    """The indented shell block of deploy/kubernetes/README.md that starts with `starts`."""
    with open(os.path.join(src, "deploy", "kubernetes", "README.md")) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(starts):
            indent = len(line) - len(line.lstrip())
            block = []
            for l in lines[i:]:
                if l.strip() and len(l) - len(l.lstrip()) < indent:
                    break
                block.append(l[indent:])
            return "\n".join(block).strip() + "\n"
    return None


def scale_up_and_down(cluster, objects, cli, described, has_health, src, bin_dir, octet):
    """deploy/kubernetes/README.md's scaling: a fourth broker (pod index 3, node 103) joins and
    takes a replica; then its partitions are found with the README's loop and moved away, the
    pod stops, and the broker is unregistered."""
    brokers = cluster.component("strand-broker")
    sts = brokers[0].sts
    n = len(brokers)
    new = Pod(sts, n, f"127.0.{octet}.{21 + n}", cluster.work)
    node = 100 + n
    cluster.pods.append(new)
    cluster.hosts = sorted(((name, p.addr) for p in cluster.pods for name in p.dns_names()),
                           key=lambda h: -len(h[0]))
    cluster.start(new)
    ready = lambda: new.proc.poll() is None and (probe(new, "readinessProbe")[0] if has_health
                                                  else True)
    ok = poll(f"{new.name} ready", READY_BUDGET_S, ready) and poll(
        f"{node} running", 30, lambda: any(b["id"] == node and b["state"] == "running"
                                           for b in (described() or {}).get("brokers", [])))
    if not check(ok, f"scale up: {new.name} joins as broker {node}"):
        print(cluster.tail(new))
        return
    r = cli("partitions", "reassign", "--topic", "k8s-check", "--partition", "0", "--replicas",
            f"{node},100,101")
    check(r.returncode == 0, f"k8s-check-0 reassigned onto {node}: {r.stderr.strip()}")
    moving = lambda: cli("partitions", "list-reassignments", "--json").stdout
    done = lambda: '"reassignments":[]' in moving().replace(" ", "")
    check(poll("reassignment onto the new broker", 60, done, 0.5),
          f"the move onto {node} completes")

    # The README's loop finds the partitions on the broker being removed.
    loop = readme_block(src, "for t in $(strand topics list")
    if not check(loop is not None, "deploy/kubernetes/README.md has the loop that lists a "
                 "broker's partitions"):
        return
    if shutil.which("jq") is None:
        die("jq is not installed (scripts/install-deps.sh installs it): the README's loop uses it")
    loop = loop.replace("103", str(node))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin",
           "STRAND_BOOTSTRAP": ",".join(f"{p.addr}:9092" for p in brokers)}
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", loop], capture_output=True, text=True,
                       env=env, timeout=60)
    found = [l.split() for l in r.stdout.splitlines() if l.strip()]
    check(r.returncode == 0 and found and all(len(f) == 3 for f in found)
          and ["k8s-check", "0"] in [f[:2] for f in found],
          f"the README's loop lists the partitions on {node}: {found} {r.stderr.strip()}")
    keep = [str(100 + i) for i in range(n)]
    for topic, partition, replicas in found:
        target = [x for x in replicas.split(",") if x != str(node)]
        target += [x for x in keep if x not in target][:len(replicas.split(",")) - len(target)]
        r = cli("partitions", "reassign", "--topic", topic, "--partition", partition,
                "--replicas", ",".join(target))
        check(r.returncode == 0, f"{topic}-{partition} moved to {','.join(target)}: "
              f"{r.stderr.strip()}")
    check(poll("reassignments away from the broker", 60, done, 0.5), "every move completes")
    empty = lambda: any(b["id"] == node and b["replica_count"] == 0
                        for b in (described() or {}).get("brokers", []))
    check(poll(f"{node} empty", 30, empty, 0.5), f"broker {node} holds no replica")
    grace = new.template["spec"].get("terminationGracePeriodSeconds", 30)
    code, secs = cluster.stop(new, grace)
    check(code == 0, f"scale down: {new.name} stops with exit {code} in {secs:.1f} s")
    cluster.pods.remove(new)
    state = lambda: [b["state"] for b in (described() or {}).get("brokers", []) if b["id"] == node]
    states = state()
    check(states and states[0] != "running", f"broker {node} no longer running once stopped "
          f"({states})")
    # Refused (INVALID_REQUEST, "running") until the controllers have fenced the stopped broker.
    t0 = time.monotonic()
    tries = []
    ok = poll(f"unregistering {node}", 30, lambda: tries.append(
        unregister_broker(f"{brokers[0].addr}:9092", node)) or tries[-1][0], 0.5)
    check(ok, f"AdminService/UnregisterBroker {node} through a broker's client port, "
          f"{time.monotonic() - t0:.1f} s after the stop ({len(tries)} tries; last error "
          f"{tries[-1][1] if tries else None})")
    gone = lambda: (d := described()) is not None and node not in [b["id"] for b in d["brokers"]]
    check(poll(f"{node} unregistered", 30, gone, 0.5), f"broker {node} is no longer listed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("bin_dir")
    ap.add_argument("work")
    ap.add_argument("--overlay", required=True)
    a = ap.parse_args()
    src, bin_dir, work = os.path.abspath(a.src), os.path.abspath(a.bin_dir), os.path.abspath(a.work)
    kr.require_kubectl()
    for tool in ("strand-server", "strand"):
        if not os.access(os.path.join(bin_dir, tool), os.X_OK):
            die(f"{bin_dir}/{tool} is missing: build it first")
    with open(os.path.join(bin_dir, "strand-server"), "rb") as f:
        has_health = b"/readyz" in f.read()
    if not has_health:
        print("NOTE: this strand-server serves no /healthz or /readyz yet (the binary has no "
              "'/readyz'): the probes' paths are not asserted, /metrics is polled in their place")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    overlay = f"overlays/{a.overlay}"
    objects = kr.render(os.path.join(src, "deploy", "kubernetes"), (overlay, overlay, []))
    octet = 1 if a.overlay == "prod" else 0
    probe_cluster = Cluster(objects, work, octet, bin_dir, {})
    secrets, client_config = make_secrets(objects, src, work, [p.addr for p in probe_cluster.pods])
    cluster = Cluster(objects, work, octet, bin_dir, secrets)
    controllers = cluster.component("strand-controller")
    brokers = cluster.component("strand-broker")
    check(len(controllers) == 3 and len(brokers) >= 3,
          f"{overlay}: {len(controllers)} controllers and {len(brokers)} brokers")
    for i, b in enumerate(brokers):
        if i in ZONES:
            b.labels["topology.kubernetes.io/zone"] = ZONES[i]

    # The addresses and ports must be free (a pod binds its ports on its own address).
    for p in cluster.pods:
        for port in [x["containerPort"] for x in p.container["ports"]]:
            with socket.socket() as s:
                # As the servers bind (SO_REUSEADDR): connections of an earlier run in TIME_WAIT
                # do not count.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((p.addr, port))
                except OSError as e:
                    die(f"{p.addr}:{port} ({p.name}) cannot be bound: {e}")

    def cli(*args, timeout_s=30):
        eps = bootstrap()
        cmd = [os.path.join(bin_dir, "strand"), "--bootstrap", ",".join(eps),
               "--timeout-ms", str(timeout_s * 1000)]
        if client_config:
            cmd += ["--command-config", client_config]
        return subprocess.run(cmd + list(args), capture_output=True, text=True,
                              timeout=timeout_s + 30, env={"PATH": "/usr/bin:/bin"},
                              input=cli.stdin)
    cli.stdin = None

    def ready(pod):
        if has_health:
            return probe(pod, "readinessProbe")[0]
        return pod.proc.poll() is None

    def bootstrap():
        """strand-bootstrap's endpoints: the ready pods it selects, at its target port."""
        svc = kr.one(objects, "Service", "strand-bootstrap")
        sel = svc["spec"]["selector"]
        port = svc["spec"]["ports"][0]["targetPort"]
        return [f"{p.addr}:{p.port(port)}" for p in cluster.pods
                if sel.items() <= p.labels.items() and ready(p)]

    try:
        for p in cluster.pods:
            cluster.start(p)
        # Startup probe (or /metrics before the health endpoints exist), then liveness.
        started = time.monotonic()
        for p in cluster.pods:
            sp = p.container.get("startupProbe", {})
            budget = min(sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3),
                         max(1, STARTUP_BUDGET_S - (time.monotonic() - started)))
            if has_health:
                ok = poll(f"{p.name} startupProbe", budget,
                          lambda: p.proc.poll() is not None or probe(p, "startupProbe")[0])
                ok = ok and p.proc.poll() is None
                check(ok, f"{p.name}: startupProbe {sp['httpGet']['path']} on "
                      f"{p.port(sp['httpGet']['port'])} succeeds")
            else:
                ann = p.template["metadata"]["annotations"]
                ok = poll(f"{p.name} /metrics", budget, lambda: p.proc.poll() is not None or
                          http_get(p.addr, ann["prometheus.io/port"], ann["prometheus.io/path"], 2)[0] == 200)
                ok = ok and p.proc.poll() is None
                check(ok, f"{p.name}: up, /metrics answers")
            if not ok:
                die(f"{p.name} did not start (exit {p.proc.poll()}):\n{cluster.tail(p)}")
        for p in cluster.pods:
            ann = p.template["metadata"]["annotations"]
            check(ann.get("prometheus.io/scrape") == "true", f"{p.name}: prometheus.io/scrape")
            status, body = http_get(p.addr, ann["prometheus.io/port"], ann["prometheus.io/path"], 5)
            check(status == 200 and re.search(r"^strand_\w+", body, re.M),
                  f"{p.name}: GET {ann['prometheus.io/path']} on {ann['prometheus.io/port']} "
                  f"serves strand_ metrics ({status})")
            if has_health:
                ok, status, body = probe(p, "livenessProbe")
                check(ok and body.strip() == "ok", f"{p.name}: livenessProbe answers {status} {body.strip()!r}")
        if has_health:
            started = time.monotonic()
            for p in cluster.pods:
                rp = p.container["readinessProbe"]
                ok = poll(f"{p.name} readiness", max(1, READY_BUDGET_S - (time.monotonic() - started)),
                          lambda: probe(p, "readinessProbe")[0])
                _, status, body = probe(p, "readinessProbe")
                check(ok and body.strip() == "ready", f"{p.name}: readinessProbe "
                      f"{rp['httpGet']['path']} answers {status} {body.strip()!r}")

        # The cluster through strand-bootstrap.
        def described():
            r = cli("cluster", "describe", "--json", timeout_s=10)
            if r.returncode != 0:
                return None
            d = json.loads(r.stdout)
            running = [b for b in d["brokers"] if b["state"] == "running"]
            return d if d["active_controller"] >= 0 and len(running) >= len(brokers) else None
        d = poll("cluster describe through strand-bootstrap", 60, described, 0.5)
        if not check(d is not None, f"strand cluster describe --bootstrap {','.join(bootstrap())}: "
                     "an active controller and every broker running"):
            r = cli("cluster", "describe", timeout_s=10)
            die(f"cluster describe: {r.stdout}{r.stderr}\n" +
                "\n".join(f"--- {p.name}\n{cluster.tail(p)}" for p in cluster.pods))
        want_ctl = {1 + i: f"{p.addr}:9093" for i, p in enumerate(controllers)}
        got_ctl = {c["id"]: c["address"] for c in d["controllers"]}
        check(got_ctl == want_ctl, f"controllers are nodes 1-3 at their pods' addresses ({got_ctl})")
        check(all(c["reachable"] for c in d["controllers"]), "every controller reachable")
        got = {b["id"]: b for b in d["brokers"]}
        check(sorted(got) == [100 + i for i in range(len(brokers))],
              f"brokers are nodes 100+index ({sorted(got)})")
        for i, p in enumerate(brokers):
            b = got.get(100 + i, {})
            ports = {x["name"]: x["containerPort"] for x in p.container["ports"]}
            want = f"CLIENT://{p.addr}:{ports['client']}"
            check(want in b.get("listeners", []), f"{p.name}: advertises {want} ({b.get('listeners')})")
            check(b.get("rack", None) == ZONES.get(i, ""),
                  f"{p.name}: rack {b.get('rack')!r} from its zone label {ZONES.get(i, '')!r}")
            check(not b.get("static_settings_differing"),
                  f"{p.name}: static cluster settings as the controllers' "
                  f"({b.get('static_settings_differing')})")

        if client_config:
            # mTLS for real: the listeners refuse a client without a certificate.
            plain = subprocess.run([os.path.join(bin_dir, "strand"), "--bootstrap",
                                    ",".join(bootstrap()), "--timeout-ms", "3000", "cluster",
                                    "describe"], capture_output=True, text=True, timeout=30,
                                   env={"PATH": "/usr/bin:/bin"})
            check(plain.returncode != 0, f"without a client certificate the CLI is refused "
                  f"(exit {plain.returncode}: {plain.stderr.strip()[:160]})")
            for p in cluster.pods:
                with open(p.log) as f:
                    serving = [l for l in f if " serving on " in l or "listening on" in l]
                check(serving and "PLAINTEXT" not in serving[-1] and "SSL" in serving[-1],
                      f"{p.name}: every listener SSL ({serving[-1].strip()[-160:] if serving else 'no serving line'})")

        # A topic with the ConfigMaps' defaults; records through it.
        r = cli("topics", "create", "k8s-check")
        check(r.returncode == 0, f"topics create k8s-check: {r.stdout.strip()} {r.stderr.strip()}")
        r = cli("topics", "describe", "k8s-check", "--json")
        t = json.loads(r.stdout) if r.returncode == 0 else {"partitions": []}
        check(len(t["partitions"]) == 3 and all(len(x["replicas"]) == 3 for x in t["partitions"]),
              "k8s-check has num.partitions=3, default.replication.factor=3")
        lines = [f"k{i}:v{i}" for i in range(6)]
        cli.stdin = "\n".join(lines) + "\n"
        r = cli("produce", "--topic", "k8s-check", "--key-separator", ":")
        cli.stdin = None
        check(r.returncode == 0, f"produce 6 records (acks=all): {r.stderr.strip()}")
        r = cli("consume", "--topic", "k8s-check", "--from-beginning", "--max-records", "6",
                "--idle-timeout-ms", "20000", "--format", "{key}:{value}")
        check(r.returncode == 0 and sorted(r.stdout.split()) == lines,
              f"consume them back: {r.stdout.split()} {r.stderr.strip()[-200:]}")

        # A rolling restart of one broker: SIGTERM, exit 0 within the grace period, recreated
        # on the same volume, ready again.
        b = brokers[0]
        grace = b.template["spec"].get("terminationGracePeriodSeconds", 30)
        pre = b.container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        code, secs = cluster.stop(b, grace - pre)
        check(code == 0, f"{b.name}: SIGTERM (controlled shutdown) exits 0 in {secs:.1f} s, "
              f"within terminationGracePeriodSeconds {grace} - preStop {pre}")
        cluster.start(b)
        if has_health:
            ok = poll(f"{b.name} ready again", READY_BUDGET_S, lambda: probe(b, "readinessProbe")[0])
        else:
            ok = poll(f"{b.name} running again", READY_BUDGET_S, lambda: described() is not None)
        check(ok and b.proc.poll() is None, f"{b.name}: back and ready on its volume")
        r = cli("consume", "--topic", "k8s-check", "--from-beginning", "--max-records", "6",
                "--idle-timeout-ms", "20000", "--format", "{key}:{value}")
        check(r.returncode == 0 and sorted(r.stdout.split()) == lines,
              "every record still there after the restart")

        if client_config is None:
            scale_up_and_down(cluster, objects, cli, described, has_health, src, bin_dir, octet)
        else:
            print("NOTE: scaling is checked with the dev overlay only (with prod a new broker "
                  "first needs its Certificate, deploy/kubernetes/README.md)")

        # Every pod stops on SIGTERM within its grace period: brokers, then controllers.
        for p in brokers + controllers:
            grace = p.template["spec"].get("terminationGracePeriodSeconds", 30)
            pre = p.container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            code, secs = cluster.stop(p, grace - pre)
            check(code == 0, f"{p.name}: SIGTERM exits {code} in {secs:.1f} s (grace {grace} s)")
        # The root filesystem is read-only in the pods: here at least nothing landed in the
        # working directory beside the volumes.
        for p in cluster.pods:
            check(os.listdir(p.dir) == ["volumes"], f"{p.name}: wrote nothing outside its "
                  f"volumes into its working directory ({os.listdir(p.dir)})")
    finally:
        cluster.cleanup()
    return finish()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:  # kubectl kustomize failed
        check(False, str(e))
        sys.exit(finish())

#!/usr/bin/python3
"""deploy/kubernetes renders, and says what issue 14 asks of it.

Renders the base, every overlay and every overlay with every optional component with
`kubectl kustomize`, then checks the objects: StatefulSets (Parallel, volumeClaimTemplates,
headless Services that publish not-ready addresses), the bootstrap Service, PDBs, probes on the
metrics port, Prometheus annotations, the NetworkPolicy's planes, termination grace against the
controlled-shutdown bound, the pods' security context, node ids from the pod index, the voters'
and advertised DNS names, every setting name in server.properties and every STRAND_ variable
documented in docs/configuration.md, $(VAR) references that Kubernetes can expand, and in the
TLS overlay a cert-manager Certificate per pod naming strand-node-<id> and mounted where the
keystore setting points.

Usage: render_test.py SOURCE_DIR
Prints "N passed, M failed"; exit 0 only when all passed, 77 (ctest's skip) without kubectl.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_render as kr  # noqa: E402

NAMESPACE = "strand"
DOMAIN = "svc.cluster.local"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
    return cond


def documented_names(src):
    """Every `token` in docs/configuration.md."""
    with open(os.path.join(src, "docs", "configuration.md")) as f:
        return set(re.findall(r"`([^`\s]+)`", f.read()))


def env_name(setting):
    return "STRAND_" + re.sub(r"[.-]", "_", setting).upper()


def container(sts):
    cs = sts["spec"]["template"]["spec"]["containers"]
    check(len(cs) == 1, f"{sts['metadata']['name']}: one container")
    return cs[0]


def env_list(c):
    return c.get("env", [])


def settings_of(objects, sts):
    """server.properties of a StatefulSet's ConfigMap, with its mount path."""
    spec = sts["spec"]["template"]["spec"]
    c = container(sts)
    cfg_arg = [a for a in c.get("args", []) if a.startswith("--config-file=")]
    if not check(len(cfg_arg) == 1, f"{sts['metadata']['name']}: --config-file in args"):
        return {}
    path = cfg_arg[0].split("=", 1)[1]
    mount = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not check(len(mount) == 1, f"{sts['metadata']['name']}: {path} is on a volume"):
        return {}
    vol = [v for v in spec["volumes"] if v["name"] == mount[0]["name"]][0]
    cm = kr.one(objects, "ConfigMap", vol["configMap"]["name"])
    key = os.path.relpath(path, mount[0]["mountPath"])
    return kr.parse_properties(cm["data"][key])


def port_number(c, port):
    if isinstance(port, int):
        return port
    named = [p["containerPort"] for p in c["ports"] if p["name"] == port]
    check(len(named) == 1, f"named port {port} exists")
    return named[0] if named else None


def check_statefulset(objects, name, docs, target):
    sts = kr.one(objects, "StatefulSet", name)
    where = f"{target}: StatefulSet {name}"
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    c = container(sts)
    replicas = spec.get("replicas", 1)
    check(replicas >= 3, f"{where}: at least 3 replicas (RF 3 and the Raft quorum), has {replicas}")
    check(spec.get("podManagementPolicy") == "Parallel", f"{where}: podManagementPolicy Parallel")
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
          f"{where}: the selector matches the pod template")
    # Headless Service.
    svc = kr.one(objects, "Service", spec["serviceName"])
    check(svc["spec"].get("clusterIP") == "None", f"{where}: Service {svc['metadata']['name']} "
          "is headless (clusterIP: None)")
    check(svc["spec"].get("publishNotReadyAddresses") is True,
          f"{where}: its Service publishes not-ready addresses")
    check(svc["spec"]["selector"].items() <= labels.items(), f"{where}: its Service selects it")
    # PDB.
    pdbs = [p for p in kr.find(objects, "PodDisruptionBudget")
            if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    check(len(pdbs) == 1 and pdbs[0]["spec"].get("maxUnavailable") == 1,
          f"{where}: one PodDisruptionBudget with maxUnavailable 1")
    # Storage.
    claims = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates", [])}
    check(len(claims) >= 1, f"{where}: volumeClaimTemplates")
    settings = settings_of(objects, sts)
    log_dir = settings.get("log.dirs", "")
    on_claim = [m for m in c["volumeMounts"] if m["name"] in claims
                and log_dir.startswith(m["mountPath"].rstrip("/") + "/")]
    check(len(on_claim) == 1, f"{where}: log.dirs={log_dir} is on a PersistentVolumeClaim")
    # Settings: every name documented, metrics on 9190.
    for key in settings:
        check(key in docs, f"{where}: setting {key} is in docs/configuration.md")
    check(settings.get("metrics.listen") == "0.0.0.0:9190", f"{where}: metrics.listen=0.0.0.0:9190")
    # Environment: STRAND_* are documented settings (or the pod index), $(VAR) defined before.
    env_names = {env_name(d) for d in docs} | {"STRAND_POD_INDEX"}
    defined = set()
    for e in env_list(c):
        if e["name"].startswith("STRAND_"):
            check(e["name"] in env_names, f"{where}: env {e['name']} is a documented setting")
        for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value", "")):
            check(ref in defined, f"{where}: env {e['name']} uses $({ref}), defined before it")
        defined.add(e["name"])
    env = {e["name"]: e for e in env_list(c)}
    field = lambda n: env.get(n, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    check(field("STRAND_POD_INDEX") == "metadata.labels['apps.kubernetes.io/pod-index']",
          f"{where}: STRAND_POD_INDEX from the pod-index label")
    check(field("POD_NAME") == "metadata.name", f"{where}: POD_NAME from metadata.name")
    check("node.id" not in settings and settings.get("strand.node.id.base", "").isdigit(),
          f"{where}: node ids from strand.node.id.base")
    # Advertised listeners: every bound listener at the pod's DNS name.
    adv = env.get("STRAND_ADVERTISED_LISTENERS", {}).get("value", "")
    host = f"$(POD_NAME).{spec['serviceName']}.{NAMESPACE}.{DOMAIN}"
    bound = dict(re.findall(r"([A-Z_]+)://[^,]*:(\d+)", settings.get("listeners", "")))
    advertised = dict(re.findall(r"([A-Z_]+)://" + re.escape(host) + r":(\d+)", adv))
    check(bound and advertised == bound,
          f"{where}: every listener advertised at {host} on its port ({adv!r} vs {bound})")
    ports = {p["containerPort"] for p in c["ports"]}
    check({int(p) for p in bound.values()} | {9190} == ports,
          f"{where}: container ports are the listeners' and 9190 ({sorted(ports)})")
    # Probes.
    probes = {k: c.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    want = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for k, path in want.items():
        p = probes[k] or {}
        get = p.get("httpGet", {})
        check(get.get("path") == path and port_number(c, get.get("port")) == 9190,
              f"{where}: {k} GET {path} on 9190")
    sp = probes["startupProbe"] or {}
    check(sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3) >= 300,
          f"{where}: the startup probe allows at least 5 minutes (log recovery)")
    ann = sts["spec"]["template"]["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9190"
          and ann.get("prometheus.io/path") == "/metrics", f"{where}: prometheus.io annotations")
    # Shutdown.
    grace = pod.get("terminationGracePeriodSeconds", 30)
    pre = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    shutdown_s = int(settings.get("controlled.shutdown.timeout.ms", "30000")) / 1000
    if settings.get("process.roles") == "broker":
        check(grace >= pre + shutdown_s + 30, f"{where}: terminationGracePeriodSeconds {grace} "
              f"covers preStop {pre} s + controlled.shutdown.timeout.ms {shutdown_s} s + 30 s")
    else:
        check(grace >= pre + 30, f"{where}: terminationGracePeriodSeconds {grace} >= {pre + 30}")
    check("limits" in c.get("resources", {}) and "requests" in c.get("resources", {}),
          f"{where}: resource requests and limits")
    # Placement.
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + \
        [t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    check(any(t["topologyKey"] == "kubernetes.io/hostname"
              and t["labelSelector"]["matchLabels"].items() <= labels.items() for t in terms),
          f"{where}: pod anti-affinity on kubernetes.io/hostname")
    check(any(t["topologyKey"] == "topology.kubernetes.io/zone"
              for t in pod.get("topologySpreadConstraints", [])),
          f"{where}: topologySpreadConstraints on topology.kubernetes.io/zone")
    # Security.
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) >= 1000
          and "fsGroup" in psc, f"{where}: runs as non-root with an fsGroup")
    check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False,
          f"{where}: read-only root filesystem, no privilege escalation")
    return sts, settings


def check_voters(ctl, ctl_settings, brk_settings, where):
    n = ctl["spec"]["replicas"]
    base = int(ctl_settings.get("strand.node.id.base", "-1"))
    svc = ctl["spec"]["serviceName"]
    want = ",".join(f"{base + i}@{ctl['metadata']['name']}-{i}.{svc}.{NAMESPACE}.{DOMAIN}:9093"
                    for i in range(n))
    check(ctl_settings.get("controller.quorum.voters") == want,
          f"{where}: controller.quorum.voters names every controller pod ({want})")
    check(brk_settings.get("controller.quorum.voters") == want,
          f"{where}: the brokers' controller.quorum.voters is the controllers'")
    cluster_keys = ["cluster.id", "default.replication.factor", "min.insync.replicas",
                    "offsets.topic.replication.factor", "num.partitions"]
    for k in cluster_keys:
        check(ctl_settings.get(k) == brk_settings.get(k),
              f"{where}: {k} is the same for controllers and brokers")
    ids_c = {base + i for i in range(n)}
    b = int(brk_settings.get("strand.node.id.base", "-1"))
    check(b > max(ids_c), f"{where}: broker ids ({b}+) do not overlap controller ids")


def check_bootstrap(objects, brk, where):
    svc = kr.one(objects, "Service", "strand-bootstrap")
    labels = brk["spec"]["template"]["metadata"]["labels"]
    check(svc["spec"].get("clusterIP") != "None", f"{where}: strand-bootstrap is not headless")
    check(svc["spec"]["selector"].items() <= labels.items(), f"{where}: strand-bootstrap selects "
          "the brokers")
    c = brk["spec"]["template"]["spec"]["containers"][0]
    ports = svc["spec"]["ports"]
    check(len(ports) == 1 and port_number(c, ports[0]["targetPort"]) == 9092
          and ports[0]["port"] == 9092, f"{where}: strand-bootstrap is the brokers' client port")


def check_network_policy(objects, where):
    nps = kr.find(objects, "NetworkPolicy")
    if not check(len(nps) == 1, f"{where}: one NetworkPolicy"):
        return
    np = nps[0]["spec"]
    check(np["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "strand"},
          f"{where}: the NetworkPolicy covers every Strand pod")
    check(np.get("policyTypes") == ["Ingress"], f"{where}: it restricts ingress")
    open_ports, strand_only = set(), set()
    for rule in np["ingress"]:
        ports = {p["port"] for p in rule.get("ports", [])}
        if "from" not in rule:
            open_ports |= ports
        elif rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "strand"}}}]:
            strand_only |= ports
        else:
            check(False, f"{where}: unexpected ingress rule {rule}")
    check(open_ports == {9092, 9190}, f"{where}: 9092 and 9190 open to all ({open_ports})")
    check(strand_only == {9093, 9094}, f"{where}: 9093 and 9094 only from Strand pods "
          f"({strand_only})")


def check_tls(objects, sts, settings, where):
    """Every listener SSL; each pod's keystore is the Certificate naming strand-node-<id>."""
    c = sts["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in env_list(c)}
    pmap = env.get("STRAND_LISTENER_SECURITY_PROTOCOL_MAP", "")
    names = set(re.findall(r"([A-Z_]+)://", settings.get("listeners", "")))
    check(pmap and dict(x.split(":") for x in pmap.split(",")) == {n: "SSL" for n in names},
          f"{where}: every listener SSL ({pmap})")
    ks = env.get("STRAND_SSL_KEYSTORE_LOCATION", "")
    ts = env.get("STRAND_SSL_TRUSTSTORE_LOCATION", "")
    check("$(POD_NAME)" in ks and "$(POD_NAME)" in ts, f"{where}: keystore and truststore per pod")
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    base = int(settings["strand.node.id.base"])
    svc = sts["spec"]["serviceName"]
    certs = {x["spec"]["secretName"]: x for x in kr.find(objects, "Certificate")}
    for i in range(sts["spec"]["replicas"]):
        pod = f"{sts['metadata']['name']}-{i}"
        for path, key in ((ks, "tls-combined.pem"), (ts, "ca.crt")):
            path = path.replace("$(POD_NAME)", pod)
            # The deepest mount holding the path (/etc/strand/tls within /etc/strand).
            mp = sorted((m for m in mounts if path.startswith(m.rstrip("/") + "/")), key=len)[-1:]
            if not check(len(mp) == 1, f"{where}: {path} is on a volume"):
                continue
            rel = os.path.relpath(path, mp[0])
            srcs = vols[mounts[mp[0]]].get("projected", {}).get("sources", [])
            hit = [s["secret"]["name"] for s in srcs if "secret" in s
                   for it in s["secret"].get("items", []) if it["path"] == rel and it["key"] == key]
            if not check(len(hit) == 1, f"{where}: {path} is key {key} of a Secret"):
                continue
            cert = certs.get(hit[0])
            if not check(cert is not None, f"{where}: Secret {hit[0]} comes from a Certificate"):
                continue
            cs = cert["spec"]
            check(cs.get("commonName") == f"strand-node-{base + i}",
                  f"{where}: {hit[0]} names strand-node-{base + i} ({cs.get('commonName')})")
            check(f"{pod}.{svc}.{NAMESPACE}.{DOMAIN}" in cs.get("dnsNames", []),
                  f"{where}: {hit[0]} names {pod}.{svc}.{NAMESPACE}.{DOMAIN}")
            check({"server auth", "client auth"} <= set(cs.get("usages", [])),
                  f"{where}: {hit[0]} serves and authenticates clients")
            if key == "tls-combined.pem":
                check({"type": "CombinedPEM"} in cs.get("additionalOutputFormats", []),
                      f"{where}: {hit[0]} writes tls-combined.pem")
            issuer = cs["issuerRef"]
            check(kr.find(objects, issuer.get("kind", "Issuer"), issuer["name"]) != [],
                  f"{where}: {hit[0]}'s issuer {issuer['name']} is part of the overlay")


def main():
    src = os.path.abspath(sys.argv[1])
    kdir = os.path.join(src, "deploy", "kubernetes")
    kr.require_kubectl()
    docs = documented_names(src)
    for target in kr.targets(kdir):
        where = target[0]
        try:
            objects = kr.render(kdir, target)
        except RuntimeError as e:
            check(False, f"{where}: {e}")
            continue
        check(True, f"{where} renders")
        for o in objects:
            if o["kind"] != "Namespace":
                check(o["metadata"].get("namespace") == NAMESPACE,
                      f"{where}: {o['kind']} {o['metadata']['name']} in namespace {NAMESPACE}")
        check(kr.find(objects, "Namespace", NAMESPACE) != [], f"{where}: Namespace {NAMESPACE}")
        ctl, ctl_settings = check_statefulset(objects, "strand-controller", docs, where)
        brk, brk_settings = check_statefulset(objects, "strand-broker", docs, where)
        check(ctl["spec"]["replicas"] == 3, f"{where}: 3 controllers")
        check(ctl_settings.get("process.roles") == "controller", f"{where}: controllers' role")
        check(brk_settings.get("process.roles") == "broker", f"{where}: brokers' role")
        check(ctl_settings.get("strand.node.id.base") == "1", f"{where}: controllers are 1, 2, 3")
        check(brk_settings.get("strand.node.id.base") == "100", f"{where}: brokers are 100, ...")
        rack = {e["name"]: e for e in env_list(container(brk))}.get("STRAND_BROKER_RACK", {})
        check(rack.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
              == "metadata.labels['topology.kubernetes.io/zone']",
              f"{where}: broker.rack from the pod's zone label")
        check_voters(ctl, ctl_settings, brk_settings, where)
        check_bootstrap(objects, brk, where)
        check_network_policy(objects, where)
        tls = kr.find(objects, "Certificate") != []
        if tls:
            check_tls(objects, ctl, ctl_settings, where)
            check_tls(objects, brk, brk_settings, where)
        if target[1] == "overlays/prod":
            check(tls, f"{where}: the prod overlay has certificates")
        if target[1] == "overlays/dev":
            check(not tls and "SSL" not in str(ctl_settings) + str(brk_settings),
                  f"{where}: the dev overlay is plaintext")
        if target[2]:
            check(kr.find(objects, "PodMonitor") != [] or not
                  target[2][0].endswith("podmonitor"), f"{where}: the PodMonitor is there")
        else:
            check(kr.find(objects, "PodMonitor") == [], f"{where}: no PodMonitor unless asked")
        print(f"{where}: {len(objects)} objects checked")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Writes pods.json: the pods the StatefulSets of deploy/kubernetes/overlays/dev would make, as
`kubectl get pods -o json` lists them, for kubernetes_target_test's fake kubectl.

    tools/drill/testdata/make_pods.py [--check]    (from anywhere; needs kubectl and python3-yaml)

Each pod is what the StatefulSet controller makes from its template: the template's labels plus
apps.kubernetes.io/pod-index, statefulset.kubernetes.io/pod-name and controller-revision-hash, an
ownerReference to its StatefulSet, spec.hostname and spec.subdomain (the serviceName), and a
Running, Ready status with a pod IP. UIDs are fixed so that the test can name them. --check
exits 1 when pods.json differs from what the manifests render now (drill_pods_fixture_test).
"""
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OVERLAY = os.path.join(ROOT, "deploy", "kubernetes", "overlays", "dev")
SUBNETS = {"strand-controller": "10.244.1", "strand-broker": "10.244.2"}


def render():
    out = subprocess.run(["kubectl", "kustomize", OVERLAY], check=True, capture_output=True,
                         text=True).stdout
    return [o for o in yaml.safe_load_all(out) if o]


def pod(statefulset, index):
    name = statefulset["metadata"]["name"]
    pod_name = f"{name}-{index}"
    template = statefulset["spec"]["template"]
    labels = dict(template["metadata"]["labels"])
    labels.update({
        "apps.kubernetes.io/pod-index": str(index),
        "controller-revision-hash": f"{name}-5d8f7c9b4",
        "statefulset.kubernetes.io/pod-name": pod_name,
    })
    spec = json.loads(json.dumps(template["spec"]))
    spec["hostname"] = pod_name
    spec["subdomain"] = statefulset["spec"]["serviceName"]
    spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {
        "claimName": f"data-{pod_name}"}}] + spec.get("volumes", [])
    ip = f"{SUBNETS[name]}.{10 + index}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": statefulset["metadata"]["namespace"],
            "uid": f"uid-{pod_name}-a",
            "labels": labels,
            "annotations": template["metadata"].get("annotations", {}),
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": name,
                "uid": f"uid-{name}", "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"},
                           {"type": "ContainersReady", "status": "True"}],
        },
    }


def main():
    objects = render()
    pods = []
    for o in objects:
        if o["kind"] == "StatefulSet":
            pods += [pod(o, i) for i in range(o["spec"]["replicas"])]
    pods.sort(key=lambda p: p["metadata"]["name"])
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": pods,
                       "metadata": {"resourceVersion": ""}}, indent=1, sort_keys=True) + "\n"
    path = os.path.join(HERE, "pods.json")
    if "--check" in sys.argv:
        with open(path) as f:
            if f.read() != text:
                print(f"{path} differs from the pods of {OVERLAY}: run {sys.argv[0]}")
                return 1
        print(f"{path} matches {OVERLAY}")
        return 0
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}: {len(pods)} pods")
    return 0


if __name__ == "__main__":
    sys.exit(main())

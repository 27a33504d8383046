#!/usr/bin/python3
"""A fake kubectl for kubernetes_target_test and cli_drill_test: a cluster in a JSON file.

A test copies this file as DIR/kubectl and writes DIR/state.json; every run appends one JSON line
{"argv": [...], "stdin": "..."} to DIR/calls.log, then answers from and updates state.json:

  namespace          the --namespace every command must carry
  context            the --context every command must carry ("" : none)
  selector           what `get pods --selector` must ask for
  pods               the pods `get pods` lists (pods.json's items)
  recreate_after     a deleted or evicted pod comes back (the StatefulSet), with a new uid, after
                     this many `get pods`; -1: never
  terminating_gets   an evicted pod stays, with a deletionTimestamp, for this many `get pods`
  refuse_eviction    {pod: stderr}: evicting it exits 1 with that stderr (a PDB's 429)
  exec               [{"command": [...], "exit": N, "stdout": "", "stderr": ""}]: what
                     `kubectl exec ... -- command` answers; a command not listed is missing from
                     the image (containerd's answer)
  fail               {verb: {"exit": N, "stderr": "..."}}: the verb fails so
  hang               every command sleeps (a cluster that never answers)
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STATE = os.path.join(HERE, "state.json")
LOG = os.path.join(HERE, "calls.log")


def answer(code, out="", err=""):
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(code)


def save(state):
    with open(STATE + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(STATE + ".tmp", STATE)


def pod_named(state, name):
    return next((p for p in state["pods"] if p["metadata"]["name"] == name), None)


def remove(state, name):
    """The pod is gone; the StatefulSet recreates it after recreate_after lists."""
    old = pod_named(state, name)
    state["pods"] = [p for p in state["pods"] if p["metadata"]["name"] != name]
    if state.get("recreate_after", 1) >= 0:
        fresh = json.loads(json.dumps(old))
        generation = state.setdefault("generation", {}).get(name, 0) + 1
        state["generation"][name] = generation
        fresh["metadata"]["uid"] = f"uid-{name}-{'abcdefghij'[generation]}"
        fresh["metadata"].pop("deletionTimestamp", None)
        state.setdefault("pending", []).append(
            {"gets_left": state.get("recreate_after", 1), "pod": fresh})


def get_pods(state, args):
    selector = args[args.index("--selector") + 1] if "--selector" in args else ""
    if selector != state.get("selector", "app.kubernetes.io/name=strand") or args[-2:] != [
            "-o", "json"]:
        answer(1, err=f"fake kubectl: unexpected get {args}\n")
    for entry in state.get("terminating", []):
        entry["gets_left"] -= 1
        if entry["gets_left"] < 0:
            remove(state, entry["name"])
    state["terminating"] = [e for e in state.get("terminating", []) if e["gets_left"] >= 0]
    for entry in state.get("pending", []):
        entry["gets_left"] -= 1
        if entry["gets_left"] < 0:
            state["pods"].append(entry["pod"])
    state["pending"] = [e for e in state.get("pending", []) if e["gets_left"] >= 0]
    save(state)
    answer(0, json.dumps({"apiVersion": "v1", "kind": "List", "items": state["pods"],
                          "metadata": {"resourceVersion": ""}}))


def delete_pod(state, args):
    name = args[2]
    if args != ["delete", "pod", name, "--grace-period=0", "--force", "--wait=false"]:
        answer(1, err=f"fake kubectl: unexpected delete {args}\n")
    if pod_named(state, name) is None:
        answer(1, err=f'Error from server (NotFound): pods "{name}" not found\n')
    remove(state, name)
    save(state)
    answer(0, f'pod "{name}" force deleted\n',
           "Warning: Immediate deletion does not wait for confirmation that the running resource "
           "has been terminated. The resource may continue to run on the cluster indefinitely.\n")


def evict(state, args, stdin):
    path = args[2]
    parts = path.split("/")  # /api/v1/namespaces/NS/pods/NAME/eviction
    if args[3:] != ["-f", "-"] or len(parts) != 8 or parts[7] != "eviction":
        answer(1, err=f"fake kubectl: unexpected create {args}\n")
    name = parts[6]
    body = json.loads(stdin)
    if body.get("apiVersion") != "policy/v1" or body.get("kind") != "Eviction" or body[
            "metadata"] != {"name": name, "namespace": parts[4]}:
        answer(1, err=f"fake kubectl: bad eviction body {stdin}\n")
    if name in state.get("refuse_eviction", {}):
        answer(1, err=state["refuse_eviction"][name])
    pod = pod_named(state, name)
    if pod is None:
        answer(1, err=f'Error from server (NotFound): pods "{name}" not found\n')
    pod["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    state.setdefault("terminating", []).append(
        {"name": name, "gets_left": state.get("terminating_gets", 1)})
    save(state)
    answer(0, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}')


def wait(state, args):
    name = args[2].split("/", 1)[1]
    pod = pod_named(state, name)
    ready = pod is not None and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
    if args[1] != "--for=condition=Ready" or not args[3].startswith("--timeout="):
        answer(1, err=f"fake kubectl: unexpected wait {args}\n")
    if not ready:
        answer(1, err=f"error: timed out waiting for the condition on pods/{name}\n")
    answer(0, f"pod/{name} condition met\n")


def execute(state, args):
    dash = args.index("--")
    name, command = args[dash - 1], args[dash + 1:]
    if pod_named(state, name) is None:
        answer(1, err=f'Error from server (NotFound): pods "{name}" not found\n')
    for rule in state.get("exec", []):
        if rule["command"] == command:
            answer(rule.get("exit", 0), rule.get("stdout", ""), rule.get("stderr", ""))
    answer(1, err="error: Internal error occurred: error executing command in container: failed "
           'to exec in container: failed to start exec "0a1b2c": OCI runtime exec failed: exec '
           f'failed: unable to start container process: exec: "{command[0]}": executable file '
           "not found in $PATH: unknown\n")


def main():
    argv = sys.argv[1:]
    stdin = sys.stdin.read() if ("-f" in argv or "-i" in argv) else ""
    with open(LOG, "a") as f:
        f.write(json.dumps({"argv": argv, "stdin": stdin}) + "\n")
    with open(STATE) as f:
        state = json.load(f)
    if state.get("hang"):
        time.sleep(3600)
    args = list(argv)
    if state.get("context"):
        if args[:2] != ["--context", state["context"]]:
            answer(1, err=f"fake kubectl: no --context {state['context']}\n")
        args = args[2:]
    if args[:2] != ["--namespace", state["namespace"]]:
        answer(1, err=f"fake kubectl: no --namespace {state['namespace']} first\n")
    args = args[2:]
    verb = args[0] if args else ""
    if verb in state.get("fail", {}):
        failure = state["fail"][verb]
        answer(failure.get("exit", 1), err=failure.get("stderr", ""))
    if args[:2] == ["get", "pods"]:
        get_pods(state, args)
    elif args[:2] == ["delete", "pod"]:
        delete_pod(state, args)
    elif args[:2] == ["create", "--raw"]:
        evict(state, args, stdin)
    elif verb == "wait":
        wait(state, args)
    elif verb == "exec":
        execute(state, args)
    answer(1, err=f"fake kubectl: unknown command {argv}\n")


if __name__ == "__main__":
    main()

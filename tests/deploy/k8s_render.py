"""Rendering deploy/kubernetes with kubectl's built-in Kustomize, for the tests in tests/deploy.

What the tests render: the base, every overlay under overlays/, and each overlay with every
component under components/ added (a component is optional, so it is rendered on top of an
overlay the way a user would add it: a kustomization of its own naming both).
"""
import os
import shutil
import subprocess
import tempfile

import yaml

# ctest's SKIP_RETURN_CODE for the tests that cannot run without kubectl.
SKIP = 77
KUBECTL_CANDIDATES = ["/usr/bin/kubectl", "kubectl"]


def kubectl():
    """The kubectl binary, or None."""
    for c in KUBECTL_CANDIDATES:
        path = c if os.path.isabs(c) else shutil.which(c)
        if path and os.access(path, os.X_OK):
            return path
    return None


def require_kubectl():
    """kubectl, or exit with SKIP and a message saying why."""
    k = kubectl()
    if k is None:
        print("SKIP: kubectl is not installed (looked for /usr/bin/kubectl and kubectl on PATH); "
              "the deploy/kubernetes tests need it to render the manifests (kubectl kustomize)")
        raise SystemExit(SKIP)
    return k


def render_dir(path):
    """`kubectl kustomize PATH` as a list of objects; RuntimeError with kubectl's words on
    failure."""
    p = subprocess.run([require_kubectl(), "kustomize", path], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed (exit {p.returncode}): "
                           f"{p.stderr.strip()}")
    objects = [o for o in yaml.safe_load_all(p.stdout) if o is not None]
    if not objects:
        raise RuntimeError(f"kubectl kustomize {path} rendered nothing")
    return objects


def render_with_components(kdir, overlay, components):
    """The overlay with the components added, as a user would: a kustomization of its own
    (Kustomize takes only relative paths)."""
    with tempfile.TemporaryDirectory(prefix="strand-kustomize-") as tmp:
        rel = lambda p: os.path.relpath(os.path.join(kdir, p), tmp)
        lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization",
                 "resources:", f"  - {rel(overlay)}", "components:"]
        lines += [f"  - {rel(c)}" for c in components]
        with open(os.path.join(tmp, "kustomization.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")
        return render_dir(tmp)


def targets(kdir):
    """[(name, relative directory or None, components)] of everything the tests render."""
    overlays = sorted(d for d in os.listdir(os.path.join(kdir, "overlays"))
                      if os.path.isfile(os.path.join(kdir, "overlays", d, "kustomization.yaml")))
    components = sorted(d for d in os.listdir(os.path.join(kdir, "components"))
                        if os.path.isfile(os.path.join(kdir, "components", d,
                                                       "kustomization.yaml")))
    out = [("base", "base", [])]
    out += [(f"overlays/{o}", f"overlays/{o}", []) for o in overlays]
    out += [(f"overlays/{o}+components/{c}", f"overlays/{o}", [f"components/{c}"])
            for o in overlays for c in components]
    return out


def render(kdir, target):
    name, path, comps = target
    if comps:
        return render_with_components(kdir, path, comps)
    return render_dir(os.path.join(kdir, path))


def find(objects, kind, name=None):
    out = [o for o in objects if o.get("kind") == kind
           and (name is None or o["metadata"]["name"] == name)]
    return out


def one(objects, kind, name):
    found = find(objects, kind, name)
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name}, found {len(found)}")
    return found[0]


def parse_properties(text):
    """Java-style properties as Strand reads them (NAME=VALUE or NAME: VALUE; # and ! comments).
    Continuation lines are not used in these files and not supported here."""
    out = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        eq = [i for i in (line.find("="), line.find(":")) if i >= 0]
        if not eq:
            raise ValueError(f"not a property line: {raw!r}")
        i = min(eq)
        out[line[:i].strip()] = line[i + 1:].strip()
    return out


def expand_dependent(value, env):
    """Kubernetes' $(VAR) expansion of command, args and env values: $(VAR) is replaced by an
    already defined VAR, $$ is a literal $, an undefined $(VAR) is left as written."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and value.find(")", i) > 0:
            j = value.find(")", i)
            name = value[i + 2:j]
            out.append(env[name] if name in env else value[i:j + 1])
            i = j + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def main(argv):
    """k8s_render.py SOURCE_DIR OUT.json: every target's objects as [{target, objects}]."""
    import json
    kdir = os.path.join(os.path.abspath(argv[1]), "deploy", "kubernetes")
    require_kubectl()
    out = [{"target": t[0], "objects": render(kdir, t)} for t in targets(kdir)]
    with open(argv[2], "w") as f:
        json.dump(out, f)
    print(f"rendered {', '.join(t['target'] for t in out)}")
    return 0


if __name__ == "__main__":
    import sys
    try:
        sys.exit(main(sys.argv))
    except RuntimeError as e:
        print(f"FAIL: {e}")
        sys.exit(1)

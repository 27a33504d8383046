#!/usr/bin/env bash
# Schema check of every object deploy/kubernetes renders (base, overlays, overlays with
# components), failing on a misspelled field: typed models from npm (kubernetes-models,
# @kubernetes-models/cert-manager, @kubernetes-models/prometheus-operator) with TypeScript's
# excess-property checks (tsc --noEmit) and the models' validate(); schema/check.mjs says how,
# and checks that the checker itself fails on misspelled fields.
#
#   schema_test.sh SOURCE_DIR WORK_DIR
#
# The npm packages are installed here by `npm ci` from the committed package-lock.json into
# tests/deploy/schema/node_modules (ignored by git), again only when the lock file changed.
# Without kubectl: skipped (exit 77). Without node or npm, or when npm ci fails: failed.
set -euo pipefail
SRC=$(cd "$1" && pwd)
WORK=$2
HERE=$SRC/tests/deploy
SCHEMA=$HERE/schema

if ! command -v kubectl >/dev/null && [[ ! -x /usr/bin/kubectl ]]; then
  echo "SKIP: kubectl is not installed; it renders the manifests (kubectl kustomize)"
  exit 77
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/install-deps.sh installs it)"; exit 1; }
done

# npm ci only when node_modules is not from this lock file.
stamp=$SCHEMA/node_modules/.strand-lock.sha256
want=$(sha256sum "$SCHEMA/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "npm ci in $SCHEMA"
  if ! (cd "$SCHEMA" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
    echo "FAIL: npm ci failed in $SCHEMA"
    exit 1
  fi
  echo "$want" >"$stamp"
fi

rm -rf "$WORK" && mkdir -p "$WORK"
/usr/bin/python3 "$HERE/k8s_render.py" "$SRC" "$WORK/objects.json"
node "$SCHEMA/check.mjs" "$WORK/objects.json" "$WORK"

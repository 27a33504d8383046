#!/usr/bin/env bash
# Module boundaries on #include lines (ARCHITECTURE.md section 10): each module includes only the
# modules below it. The link graph is checked at configure time (cmake/ModuleBoundaries.cmake);
# this catches a header-only dependency the linker never sees. Tests (*_test.cc, testing/) may
# also include the shared test helpers under tests/.
# Usage: check_includes.sh [repository root]. Exit 0: no violation; 1: each violation printed.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$root"

declare -A allowed=(
  [common]="common proto"
  [record]="common record"
  [storage]="common record storage"
  [raft]="common proto raft"
  [controller]="common proto raft record controller"
  [broker]="common proto raft record storage controller broker"
  [client]="common proto record client strand"
)

violations=0
for module in "${!allowed[@]}"; do
  [[ -d "$module" ]] || { echo "check_includes: no module directory $module/" >&2; exit 1; }
  while IFS= read -r -d '' file; do
    is_test=0
    [[ "$file" == *_test.cc || "$file" == */testing/* ]] && is_test=1
    while IFS= read -r line; do
      inc="${line#*\"}"
      inc="${inc%%\"*}"
      top="${inc%%/*}"
      [[ "$inc" == */* ]] || continue  # a same-directory include
      # Only the project's own top-level directories are modules; absl/, grpcpp/... are packages.
      [[ -d "$top" && "$top" != absl ]] || continue
      ok=0
      for a in ${allowed[$module]}; do [[ "$top" == "$a" ]] && ok=1; done
      [[ $is_test -eq 1 && "$top" == tests ]] && ok=1
      if [[ $ok -eq 0 ]]; then
        echo "$file: includes \"$inc\"; $module/ may include only: ${allowed[$module]}"
        violations=$((violations + 1))
      fi
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
  done < <(find "$module" -type f \( -name '*.h' -o -name '*.cc' \) -print0)
done

if [[ $violations -gt 0 ]]; then
  echo "check_includes: $violations include(s) cross a module boundary" >&2
  exit 1
fi
echo "check_includes: every include stays inside its module's boundary"

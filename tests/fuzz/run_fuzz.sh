#!/usr/bin/env bash
# Builds a fuzzer with clang/libFuzzer in its own build directory (configured once; later runs
# only rebuild what changed) and runs it for a bounded time on a scratch copy of its committed
# seed corpus (tests/fuzz/corpus/<target without _fuzz>), so the tree stays clean. A crash, leak
# or sanitizer report fails the run; the input is kept under <build dir>/fuzz-artifacts.
#
#   tests/fuzz/run_fuzz.sh                   # the batch validator, 30 s, as `make test` runs it
#   tests/fuzz/run_fuzz.sh --target service_fuzz --seconds 3600   # every gRPC service, by hand
#   tests/fuzz/run_fuzz.sh --build-only      # just build (make test does, before the tests)
#   tests/fuzz/run_fuzz.sh --build-dir DIR --jobs N
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=30
build_dir="$root/build-fuzz"
jobs=2
target=batch_validator_fuzz
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --target) target="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) echo "usage: $0 [--target NAME] [--seconds N] [--build-dir DIR] [--jobs N] [--build-only]" >&2; exit 2 ;;
  esac
done

for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "run_fuzz: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

if [ ! -f "$build_dir/build.ninja" ]; then
  # ASan+UBSan everywhere; coverage instrumentation for libFuzzer; clang does not know some of
  # GCC's warning flags that the project sets.
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSTRAND_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link -Wno-unknown-warning-option" >/dev/null
fi
if ((build_only)); then
  cmake --build "$build_dir" --target batch_validator_fuzz service_fuzz -j "$jobs"
  exit 0
fi
cmake --build "$build_dir" --target "$target" -j "$jobs"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/tests/fuzz/corpus/${target%_fuzz}/"* "$work/"
mkdir -p "$build_dir/fuzz-artifacts"
echo "run_fuzz: fuzzing $target for ${seconds}s"
# The service fuzzer's server threads keep their own memory (logs, caches): a higher RSS cap.
"$build_dir/bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$build_dir/fuzz-artifacts/" "$work"

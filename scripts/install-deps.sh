#!/usr/bin/env bash
# Installs the Debian bookworm packages Strand needs to build, test and run.
# Idempotent: installs only what is missing; safe to run on every `make test`.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang clang-format libclang-rt-14-dev
  # RPC and serialization
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # storage, compression, checksums
  librocksdb-dev liblz4-dev libzstd-dev libsnappy-dev zlib1g-dev libisal-dev
  # libraries
  libabsl-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libcivetweb-dev nlohmann-json3-dev libcli11-dev libre2-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # test tooling: network namespaces, loop devices, process tools
  iproute2 util-linux procps e2fsprogs python3 openssl
  # scripts/local-cluster.sh --netns and its fault drills: links between nodes' namespaces cut
  # and restored with nftables rules
  nftables
  # the clock-jump drill: CLOCK_REALTIME of one broker shifted while it runs (LD_PRELOAD)
  libfaketime
  # tests that drive the cluster with a gRPC client this project did not write; tests/tools/
  # grpcurl.py (grpcurl's command line through server reflection) uses protobuf's Python too
  python3-grpcio python3-protobuf
  # Prometheus's own tools (promtool check metrics; later a real server scraping a cluster)
  prometheus
  # tests/deploy: the rendered Kubernetes manifests and the Prometheus rules read as YAML; jq
  # for the README's commands
  python3-yaml jq
  # tests/deploy/image_test.sh: builds deploy/Dockerfile's image without a registry (a
  # debootstrap'd base, buildah with vfs storage and chroot isolation) and runs it
  buildah debootstrap
)
# tests/deploy's schema check runs npm packages (tests/deploy/schema/package.json) on Node.js.
# Any node and npm on PATH will do (the machine may bring its own); Debian's otherwise.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"

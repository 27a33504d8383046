#!/usr/bin/env bash
# image_test.sh SOURCE_DIR BIN_DIR WORK_DIR: builds deploy/Dockerfile's image on this machine
# with no registry and runs Strand from it (issue 14).
#
#  1. A Debian bookworm base: `debootstrap --variant=minbase bookworm` into
#     WORK_DIR/debootstrap-bookworm (a cache, kept between runs and reused once complete; remove
#     it for a fresh one; STRAND_IMAGE_ROOTFS=DIR puts it elsewhere), copied into buildah as
#     localhost/debian:bookworm-slim (apt lists and .debs dropped, like the slim image).
#  2. `buildah bud --target runtime-prebuilt --build-arg BASE=localhost/debian:bookworm-slim -f
#     deploy/Dockerfile` on a context holding BIN_DIR's strand-server and strand at build/bin/
#     and deploy/runtime-packages.txt, as the repository's root does (with its .dockerignore,
#     which must let build/bin's two binaries through). This is the prebuilt
#     path; the full multi-stage build (default target runtime, compiling in the image, ~30 min
#     on 2 cores) is run by hand (deploy/kubernetes/README.md, "Building the image").
#  3. Checks the image: deploy/runtime-packages.txt equals the packages of the libraries `ldd`
#     finds for both binaries (a new library dependency fails here, not in a pod), no library
#     "not found" inside the image, no compiler or -dev package (`dpkg-query` inside), the
#     binaries are the ones built, root-owned in /usr/local/bin; the config says ENTRYPOINT
#     strand-server, USER 10001:10001, WORKDIR and VOLUME /var/lib/strand, EXPOSE 9092 9093 9094
#     9190.
#  4. Runs a controller (node 1) and a broker (node 100) from the image's root filesystem as the
#     pods do: uid/gid 10001, the root filesystem read-only, deploy/kubernetes/base's
#     controller.properties / broker.properties at /etc/strand/server.properties (read-only), a
#     volume at /var/lib/strand, a tmpfs at /tmp, the pod's settings from STRAND_* variables
#     (127.0.0.1 ports from 26000, else 26400 or 26800; a single controller, replication factor
#     1). /healthz, /readyz and /metrics answer on both; `strand cluster describe` run in the
#     image (buildah run) shows the active controller and broker 100 running; a topic takes
#     records and gives them back; SIGTERM stops each process (by PID) with exit 0.
#  5. Removes what it made (containers, images, its buildah storage under WORK_DIR/run); keeps
#     the debootstrap cache.
#
# Needs root, buildah, debootstrap, unshare and chroot (util-linux, coreutils), python3, and
# deb.debian.org (debootstrap's first run, apt-get in the image). Skips (exit 77) when not root
# or when buildah or debootstrap is missing, and for a sanitizer build (the image takes a
# release build's binaries). Exit 0 passed, 1 failed.
set -euo pipefail

usage() { echo "usage: image_test.sh SOURCE_DIR BIN_DIR WORK_DIR" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
skip() { echo "SKIP: image_test: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, buildah with vfs storage, chroot)"
SRC=$(cd "$1" && pwd)
BIN=$(cd "$2" && pwd)
mkdir -p "$3"
WORK=$(cd "$3" && pwd)

die() { echo "FAIL: image_test: $*" >&2; exit 1; }
FAILED=0
check() { # check STATUS MESSAGE, as `CONDITION; check $? "what it means"`
  if [[ $1 -eq 0 ]]; then echo "ok: $2"; else echo "FAIL: $2"; FAILED=1; fi
}
t0=$SECONDS
phase() { echo "=== [$((SECONDS - t0)) s] $*"; }

for tool in buildah debootstrap; do
  command -v "$tool" >/dev/null || skip "$tool not installed (apt-get install --no-install-recommends buildah debootstrap; scripts/install-deps.sh installs both)"
done
for tool in unshare chroot python3 ldd dpkg-query; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
for b in strand-server strand; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing: build it first (make build)"
done
if ldd "$BIN/strand-server" | grep -Eq 'lib(asan|ubsan|tsan|lsan)\.'; then
  skip "$BIN/strand-server is a sanitizer build; the image takes a release build's binaries"
fi

ROOTFS=${STRAND_IMAGE_ROOTFS:-$WORK/debootstrap-bookworm}
RUN=$WORK/run
BASE_IMAGE=localhost/debian:bookworm-slim
IMAGE=localhost/strand:image-test
# The test's own buildah storage: nothing in the host's /var/lib/containers is touched.
BUILDAH=(buildah --root "$RUN/storage" --runroot "$RUN/runroot" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot
PIDS=()
CONTAINERS=()

cleanup() {
  local rc=$? pid c
  set +e
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  if [[ -d $RUN/storage ]]; then
    for c in "${CONTAINERS[@]}"; do
      "${BUILDAH[@]}" umount "$c" >/dev/null 2>&1
      "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1
    done
    "${BUILDAH[@]}" rm --all >/dev/null 2>&1
    "${BUILDAH[@]}" rmi --all --force >/dev/null 2>&1
  fi
  # Nothing may stay mounted below RUN before it goes (the servers' mounts lived in their own
  # mount namespaces; buildah's vfs storage mounts nothing, this is a safety net).
  findmnt -rn -o TARGET | grep -F "$RUN/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$RUN"
  if [[ $rc -eq 0 && $FAILED -eq 0 ]]; then echo "image_test: passed in $((SECONDS - t0)) s"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

rm -rf "$RUN"
mkdir -p "$RUN"

# ---- 1. the base image ---------------------------------------------------------------------
phase "debootstrap cache $ROOTFS"
if [[ -f $ROOTFS/.strand-complete ]]; then
  echo "reusing it (remove $ROOTFS for a fresh one)"
else
  rm -rf "$ROOTFS"
  s=$SECONDS
  if ! debootstrap --variant=minbase bookworm "$ROOTFS" http://deb.debian.org/debian \
      >"$WORK/debootstrap.log" 2>&1; then
    tail -20 "$WORK/debootstrap.log" >&2
    rm -rf "$ROOTFS"
    die "debootstrap failed (log: $WORK/debootstrap.log)"
  fi
  touch "$ROOTFS/.strand-complete"
  echo "debootstrap took $((SECONDS - s)) s"
fi

phase "import the rootfs as $BASE_IMAGE"
c=$("${BUILDAH[@]}" from scratch)
CONTAINERS+=("$c")
m=$("${BUILDAH[@]}" mount "$c")
cp -a "$ROOTFS/." "$m/"
rm -rf "$m/.strand-complete" "$m"/var/lib/apt/lists/* "$m"/var/cache/apt/*.bin \
  "$m"/var/cache/apt/archives/*.deb
"${BUILDAH[@]}" umount "$c" >/dev/null
"${BUILDAH[@]}" config --cmd /bin/bash \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
"${BUILDAH[@]}" commit -q "$c" "$BASE_IMAGE" >/dev/null
"${BUILDAH[@]}" rm "$c" >/dev/null

# ---- 2. the image, prebuilt path -------------------------------------------------------------
phase "buildah bud --target runtime-prebuilt"
CTX=$RUN/context
mkdir -p "$CTX/deploy" "$CTX/build/bin"
cp "$SRC/deploy/runtime-packages.txt" "$CTX/deploy/"
cp "$SRC/.dockerignore" "$CTX/"
for b in strand-server strand; do
  ln "$BIN/$b" "$CTX/build/bin/$b" 2>/dev/null || cp "$BIN/$b" "$CTX/build/bin/$b"
done
s=$SECONDS
if ! "${BUILDAH[@]}" bud --isolation chroot --target runtime-prebuilt \
    --build-arg BASE="$BASE_IMAGE" -f "$SRC/deploy/Dockerfile" -t "$IMAGE" "$CTX" \
    >"$RUN/bud.log" 2>&1; then
  tail -40 "$RUN/bud.log" >&2
  cp "$RUN/bud.log" "$WORK/bud.log"
  die "buildah bud failed (log: $WORK/bud.log)"
fi
cp "$RUN/bud.log" "$WORK/bud.log"
echo "buildah bud took $((SECONDS - s)) s"
# From here on each assertion is a `check`; a failed one is counted, the rest still run.
set +e
! grep -Eq 'STEP.*AS build(-deps)?$' "$RUN/bud.log"
check $? "the build stage (compiling) is not run for --target runtime-prebuilt"

# ---- 3. what the image holds -----------------------------------------------------------------
phase "the image's contents and config"
ctr=$("${BUILDAH[@]}" from -q "$IMAGE") || die "buildah from $IMAGE failed"
CONTAINERS+=("$ctr")
MNT=$("${BUILDAH[@]}" mount "$ctr") || die "buildah mount failed"
in_image() { "${BUILDAH[@]}" run --isolation chroot "$ctr" -- "$@"; }

# deploy/runtime-packages.txt against ldd of the binaries built here.
want=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$SRC/deploy/runtime-packages.txt" | grep -v '^$' | sort -u)
libs=$(for b in strand-server strand; do ldd "$BIN/$b"; done)
if grep -q 'not found' <<<"$libs"; then die "ldd on this machine: $(grep 'not found' <<<"$libs")"; fi
have=$(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$libs" | sort -u | while read -r f; do
  p=$(dpkg -S "$(readlink -f "$f")" 2>/dev/null || dpkg -S "$f" 2>/dev/null) ||
    { echo "NO-PACKAGE:$f"; continue; }
  echo "${p%%:*}"
done | sort -u)
missing=$(comm -13 <(echo "$want") <(echo "$have"))
extra=$(comm -23 <(echo "$want") <(echo "$have"))
[[ -z $missing ]]
check $? "every library the binaries load comes from a package in deploy/runtime-packages.txt${missing:+ (add: $(echo $missing))}"
[[ -z $extra ]]
check $? "every package in deploy/runtime-packages.txt provides a library they load${extra:+ (not needed: $(echo $extra))}"

out=$(in_image ldd /usr/local/bin/strand-server /usr/local/bin/strand 2>&1)
! grep -q 'not found' <<<"$out"
check $? "ldd inside the image finds every library$(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
pkgs=$(in_image dpkg-query -W -f '${Package}\n')
bad=$(grep -E -- '-dev$|^(gcc|g\+\+|cpp|clang|llvm|binutils|cmake|ninja-build|make|build-essential|ccache|protobuf-compiler)(-[0-9.]+)?$' <<<"$pkgs" || true)
[[ -z $bad ]]
check $? "no compiler or -dev package in the image (dpkg-query: $(wc -l <<<"$pkgs") packages${bad:+; found: $(echo $bad)})"
for b in strand-server strand; do
  cmp -s "$BIN/$b" "$MNT/usr/local/bin/$b"
  check $? "/usr/local/bin/$b is $BIN/$b"
done
[[ $(stat -c '%u:%g %A' "$MNT/usr/local/bin/strand-server") == "0:0 -rwxr-xr-x" ]]
check $? "the binaries are root's, not writable by the server's user ($(stat -c '%u:%g %A' "$MNT/usr/local/bin/strand-server"))"
[[ $(stat -c '%u:%g' "$MNT/var/lib/strand") == "10001:10001" ]]
check $? "/var/lib/strand belongs to 10001:10001"
[[ "$(in_image id -u):$(in_image id -g)" == "10001:10001" ]]
check $? "buildah run in the image runs as uid/gid 10001 (USER)"
[[ $(in_image sh -c 'command -v strand-server; command -v strand' | tr '\n' ' ') == "/usr/local/bin/strand-server /usr/local/bin/strand " ]]
check $? "strand-server and strand on the image's PATH"

conf() { "${BUILDAH[@]}" inspect --type image --format "$1" "$IMAGE"; }
[[ $(conf '{{.OCIv1.Config.Entrypoint}}') == "[strand-server]" ]]
check $? "ENTRYPOINT strand-server ($(conf '{{.OCIv1.Config.Entrypoint}}'))"
[[ $(conf '{{.OCIv1.Config.User}}') == "10001:10001" ]]
check $? "USER 10001:10001 ($(conf '{{.OCIv1.Config.User}}'))"
[[ $(conf '{{.OCIv1.Config.WorkingDir}}') == "/var/lib/strand" ]]
check $? "WORKDIR /var/lib/strand"
[[ $(conf '{{range $k, $v := .OCIv1.Config.Volumes}}{{$k}} {{end}}') == "/var/lib/strand " ]]
check $? "VOLUME /var/lib/strand ($(conf '{{range $k, $v := .OCIv1.Config.Volumes}}{{$k}} {{end}}'))"
ports=$(conf '{{range $k, $v := .OCIv1.Config.ExposedPorts}}{{$k}} {{end}}')
[[ $ports == "9092/tcp 9093/tcp 9094/tcp 9190/tcp " ]]
check $? "EXPOSE 9092 9093 9094 9190 ($ports)"
echo "image size: $(du -sh "$MNT" | cut -f1) unpacked"

# ---- 4. a controller and a broker from the image ---------------------------------------------
phase "a controller and a broker run from the image"
BASE_PORT=
for base in 26000 26400 26800; do
  if python3 - "$base" <<'PY'
import socket, sys
b = int(sys.argv[1])
for off in (3, 4, 11, 12, 13, 14):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", b + off))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
  then BASE_PORT=$base; break; fi
done
[[ -n $BASE_PORT ]] || die "no free port range at 26000, 26400 or 26800 on 127.0.0.1"
C_CTRL=127.0.0.1:$((BASE_PORT + 3)) C_METRICS=127.0.0.1:$((BASE_PORT + 4))
B_CLIENT=127.0.0.1:$((BASE_PORT + 11)) B_CTRL=127.0.0.1:$((BASE_PORT + 12))
B_REPL=127.0.0.1:$((BASE_PORT + 13)) B_METRICS=127.0.0.1:$((BASE_PORT + 14))
VOTERS=1@$C_CTRL
# A single-node cluster: the ConfigMaps' static settings, replication factor 1.
SMALL=(STRAND_DEFAULT_REPLICATION_FACTOR=1 STRAND_MIN_INSYNC_REPLICAS=1
  STRAND_OFFSETS_TOPIC_REPLICATION_FACTOR=1)

# start_pod NAME PROPERTIES VAR=VALUE...: strand-server from the image's root filesystem as the
# pod runs it, in a mount namespace of its own (so every mount goes with the process): the root
# read-only, the properties file read-only at /etc/strand, RUN/NAME-data at /var/lib/strand,
# tmpfs /tmp, /proc, the host's /dev; uid/gid 10001, the environment only PATH, HOME and the
# given variables. unshare, bash, env and chroot each exec the next: $! is the server's PID.
start_pod() {
  local name=$1 props=$2
  shift 2
  mkdir -p "$RUN/$name-data" "$RUN/$name-config"
  chown 10001:10001 "$RUN/$name-data"
  cp "$props" "$RUN/$name-config/server.properties"
  CHROOT=$(command -v chroot) unshare --mount --propagation private -- bash -c '
    set -e
    root=$1 data=$2 config=$3
    shift 3
    mount --bind "$root" "$root"
    mount --bind "$data" "$root/var/lib/strand"
    mount --bind "$config" "$root/etc/strand"
    mount -o remount,bind,ro "$root/etc/strand"
    mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -o remount,bind,ro "$root"
    exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/strand "$@" \
      "$CHROOT" --userspec=10001:10001 --groups=10001 "$root" \
      /usr/local/bin/strand-server --config-file=/etc/strand/server.properties
  ' start_pod "$MNT" "$RUN/$name-data" "$RUN/$name-config" "$@" \
    </dev/null >"$RUN/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name}=$!"
}

start_pod controller "$SRC/deploy/kubernetes/base/controller.properties" \
  POD_NAME=strand-controller-0 STRAND_POD_INDEX=0 STRAND_CONTROLLER_QUORUM_VOTERS="$VOTERS" \
  STRAND_LISTENERS="CONTROLLER://$C_CTRL" STRAND_ADVERTISED_LISTENERS="CONTROLLER://$C_CTRL" \
  STRAND_METRICS_LISTEN="$C_METRICS" "${SMALL[@]}"
start_pod broker "$SRC/deploy/kubernetes/base/broker.properties" \
  POD_NAME=strand-broker-0 STRAND_POD_INDEX=0 STRAND_CONTROLLER_QUORUM_VOTERS="$VOTERS" \
  STRAND_LISTENERS="CLIENT://$B_CLIENT,CONTROLLER://$B_CTRL,REPLICATION://$B_REPL" \
  STRAND_ADVERTISED_LISTENERS="CLIENT://$B_CLIENT,CONTROLLER://$B_CTRL,REPLICATION://$B_REPL" \
  STRAND_METRICS_LISTEN="$B_METRICS" "${SMALL[@]}"

logs() { local n; for n in controller broker; do echo "--- $n.log"; tail -15 "$RUN/$n.log"; done; }

# http URL: "STATUS BODY" (STATUS 0 when nothing answers).
http() {
  python3 - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        print(r.status, r.read().decode(errors="replace").strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(errors="replace").strip())
except Exception as e:
    print(0, e)
PY
}
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s for at most SECONDS, and
# never past RUN_DEADLINE (all of step 4's waits together stay within 120 s).
RUN_DEADLINE=$((SECONDS + 120))
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  ((deadline <= RUN_DEADLINE)) || deadline=$RUN_DEADLINE
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then echo "timed out after $limit s: $what"; return 1; fi
    local pid
    for pid in "$PID_controller" "$PID_broker"; do
      kill -0 "$pid" 2>/dev/null || { echo "a server exited while waiting for: $what"; logs; return 1; }
    done
    sleep 0.5
  done
}
answers() { [[ $(http "$1") == "$2"* ]]; }


for pod in controller broker; do
  addr_var=$([[ $pod == controller ]] && echo C_METRICS || echo B_METRICS)
  url=http://${!addr_var}
  wait_for 60 "$pod /healthz" answers "$url/healthz" "200 ok"
  check $? "$pod: GET /healthz answers 200 ok ($(http "$url/healthz"))"
  wait_for 60 "$pod /readyz" answers "$url/readyz" "200 ready"
  check $? "$pod: GET /readyz answers 200 ready ($(http "$url/readyz"))"
  metrics=$(http "$url/metrics")
  [[ $metrics == "200 "* ]] && grep -q '^strand_storage_log_dir_free_bytes{' <<<"$metrics"
  check $? "$pod: GET /metrics answers 200 with strand_ series ($(grep -c '^strand_' <<<"$metrics") lines)"
done
for pod in controller broker; do
  pid_var=PID_$pod
  kill -0 "${!pid_var}" 2>/dev/null || { logs; die "$pod exited"; }
done
# Once they serve, each PID is strand-server itself (unshare, bash, env and chroot exec'd),
# running as uid/gid 10001 with no other group, on a read-only root.
for pod in controller broker; do
  pid_var=PID_$pod
  pid=${!pid_var}
  [[ $(cat "/proc/$pid/comm") == strand-server ]]
  check $? "$pod: pid $pid is strand-server ($(cat "/proc/$pid/comm"))"
  [[ $(awk '/^Uid:/ {print $2, $3, $4, $5} /^Gid:/ {print $2, $3, $4, $5} /^Groups:/ {$1 = ""; print "groups" $0}' "/proc/$pid/status" | tr '\n' ';') == "10001 10001 10001 10001;10001 10001 10001 10001;groups 10001;" ]]
  check $? "$pod: runs as uid/gid 10001 only ($(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" | tr -s '\t\n' '  '))"
  root_opts=$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | tail -1)
  [[ $root_opts == ro,* || $root_opts == ro ]]
  check $? "$pod: its root filesystem is read-only ($root_opts), as readOnlyRootFilesystem"
done
[[ -f $RUN/broker-data/data/meta.properties && -f $RUN/controller-data/data/meta.properties ]]
check $? "each server stamped its volume (log.dirs=/var/lib/strand/data)"

# The CLI from the image (buildah run shares the host's network with chroot isolation).
described() {
  in_image strand --bootstrap "$B_CLIENT" --timeout-ms 5000 cluster describe --json 2>/dev/null |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = d["active_controller"] == 1 and [(b["id"], b["state"]) for b in d["brokers"]] == [(100, "running")]
sys.exit(0 if ok else 1)'
}
wait_for 60 "cluster describe: controller 1 active, broker 100 running" described
check $? "strand cluster describe (in the image): controller 1 active, broker 100 running"
in_image strand --bootstrap "$B_CLIENT" --timeout-ms 10000 cluster describe

out=$(in_image strand --bootstrap "$B_CLIENT" --timeout-ms 15000 topics create image-check 2>&1)
check $? "topics create image-check (in the image): $out"
out=$(printf 'k1:v1\nk2:v2\nk3:v3\n' | "${BUILDAH[@]}" run --isolation chroot "$ctr" -- \
  strand --bootstrap "$B_CLIENT" --timeout-ms 15000 produce --topic image-check --key-separator : 2>&1)
check $? "produce 3 records (in the image) $out"
got=$(in_image strand --bootstrap "$B_CLIENT" --timeout-ms 15000 consume --topic image-check \
  --from-beginning --max-records 3 --idle-timeout-ms 10000 --format '{key}:{value}' 2>"$RUN/consume.err" | sort | tr '\n' ' ')
[[ $got == "k1:v1 k2:v2 k3:v3 " ]]
check $? "consume them back (in the image): $got$(tail -c 200 "$RUN/consume.err")"

# SIGTERM by PID: the broker (controlled shutdown), then the controller; each exits 0.
for pod in broker controller; do
  pid_var=PID_$pod
  pid=${!pid_var}
  s=$SECONDS
  kill -TERM "$pid"
  deadline=$((SECONDS + 45)) # controlled.shutdown.timeout.ms is 30 s
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
    # A zombie (exited, not yet waited for) still answers kill -0.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
    sleep 0.2
  done
  if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] || ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && code=0 || code=$?
  else
    code=timeout
  fi
  [[ $code == 0 ]]
  check $? "$pod: SIGTERM, exit $code in $((SECONDS - s)) s"
done

phase "done"
if ((FAILED)); then logs; die "some checks failed"; fi

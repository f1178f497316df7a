#!/usr/bin/env bash
# The malformed-input run of issue 5 (part 5): `vufs fuzz` against a daemon whose addon is built
# with AddressSanitizer + UndefinedBehaviorSanitizer. Passes when the fuzzer reports no
# violation or hang, the daemon exits 0 when the fuzzer disconnects, stderr holds no sanitizer
# report, and the daemon's descriptor count and RSS at the end are back near the start.
#
#   bench/fuzz-asan.sh                       # 1,000,000 cases, seed 1
#   REQUESTS=200000 SEED=7 bench/fuzz-asan.sh
#   SANDBOX=namespace SECCOMP=kill bench/fuzz-asan.sh   # the daemon's defaults (see the note below)
#   ASAN=0 bench/fuzz-asan.sh                # the release addon: RSS without ASan's quarantine
#
# The ASan addon is built out of tree (build-asan/vfsnative.node; build/ is not touched, other
# processes may be using the release addon). By default the daemon runs with --sandbox=none
# --seccomp=none: the sanitizer runtime symbolises a report by running llvm-symbolizer and by
# reading /proc/self/maps, both out of reach inside the sandbox. Needs root (the daemon chowns).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
REQUESTS=${REQUESTS:-1000000}
SEED=${SEED:-1}
POOL=${POOL:-2}
SANDBOX=${SANDBOX:-none}
SECCOMP=${SECCOMP:-none}
WORK=$(mktemp -d /tmp/vfs-fuzz-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

ASAN=${ASAN:-1}
if [ "$ASAN" = 1 ] && { [ "${REBUILD:-1}" = 1 ] || [ ! -f "$REPO/build-asan/vfsnative.node" ]; }; then
  echo "== building the ASan+UBSan addon out of tree"
  mkdir -p "$WORK/asan"
  cp -r "$REPO/binding.gyp" "$REPO/native" "$WORK/asan/"
  ln -s "$REPO/node_modules" "$WORK/asan/node_modules"
  # npm's own node-gyp (what `npm run build:native` uses).
  GYP="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  npm_config_nodedir=${npm_config_nodedir:-$(sed -n 's/^nodedir *= *//p' ~/.npmrc 2>/dev/null || true)}
  (cd "$WORK/asan" && node "$GYP" rebuild --debug ${npm_config_nodedir:+--nodedir="$npm_config_nodedir"} -- -Dsanitize=1 >"$WORK/build.log" 2>&1) || { tail -30 "$WORK/build.log"; exit 1; }
  mkdir -p "$REPO/build-asan"
  cp "$WORK/asan/build/Debug/vfsnative.node" "$REPO/build-asan/vfsnative.node"
fi

mkdir -p "$WORK/share"
SOCK="$WORK/vhost.sock"
SAN_ENV=()
if [ "$ASAN" = 1 ]; then
  SAN_ENV=(LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 VIRTIOFSD_TS_ADDON="$REPO/build-asan/vfsnative.node")
fi
echo "== daemon: --sandbox=$SANDBOX --seccomp=$SECCOMP --thread-pool-size=$POOL ($([ "$ASAN" = 1 ] && echo ASan || echo release) addon)"
env "${SAN_ENV[@]}" node "$REPO/dist/cli/virtiofsd.js" --socket-path="$SOCK" --shared-dir="$WORK/share" \
  --sandbox="$SANDBOX" --seccomp="$SECCOMP" --thread-pool-size="$POOL" --log-level=warn 2>"$WORK/daemon.err" &
TOP=$!
for _ in $(seq 100); do grep -q 'Waiting for vhost-user' "$WORK/daemon.err" 2>/dev/null && break; sleep 0.1; done
PID=$TOP
if [ "$(cat /proc/$TOP/comm)" = vfs-supervisor ]; then PID=$(cat /proc/$TOP/task/$TOP/children | awk '{print $1}'); fi

sample() {
  local fds rss
  fds=$(ls /proc/$PID/fd 2>/dev/null | wc -l); rss=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status 2>/dev/null)
  if [ -n "$rss" ] && [ "$fds" -gt 0 ]; then echo "$fds $rss"; fi
}
( while kill -0 "$PID" 2>/dev/null; do sample >>"$WORK/samples"; sleep 2; done ) &
SAMPLER=$!

echo "== vufs fuzz --requests $REQUESTS --seed $SEED"
set +e
node "$REPO/dist/cli/vufs.js" fuzz --socket "$SOCK" --requests "$REQUESTS" --seed "$SEED" --json --daemon-pid "$PID" >"$WORK/fuzz.json" 2>"$WORK/fuzz.err"
FUZZ=$?
wait "$TOP"; DAEMON=$?
set -e
kill "$SAMPLER" 2>/dev/null || true

node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`fuzz: ${r.requests} cases in ${r.seconds} s (${r.requests_per_s}/s); ok=${r.ok} alive=${r.alive} violations=${r.violations} hangs=${r.hangs} warnings=${r.warnings} probes=${r.probes} (failed ${r.probe_failures}) re-INITs=${r.reinits}`);
if (r.stopped) console.log(`stopped: ${r.stopped}`);
' "$WORK/fuzz.json"
N=$(wc -l <"$WORK/samples")
at() { sed -n "$(( ($1 * N + 99) / 100 > 1 ? ($1 * N + 99) / 100 : 2 ))p" "$WORK/samples"; }
echo "daemon fds RSS(KiB), sampled every 2 s ($N samples): start $(at 0) | 25% $(at 25) | 50% $(at 50) | 75% $(at 75) | end $(tail -1 "$WORK/samples")"
REPORTS=$(grep -cE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$WORK/daemon.err" || true)
echo "daemon exit $DAEMON, sanitizer reports $REPORTS, fuzz exit $FUZZ"
if [ "$REPORTS" != 0 ]; then grep -E -A30 'ERROR: AddressSanitizer|runtime error:' "$WORK/daemon.err" | head -80; fi
[ "$FUZZ" = 0 ] && [ "$DAEMON" = 0 ] && [ "$REPORTS" = 0 ]

#!/usr/bin/env bash
# Host-mount throughput next to the plain directory it serves (not part of `npm test`).
#
#   bash test/integration/hostmount/bench.sh [BASE_DIR] [-- extra daemon options]
#
# BASE_DIR (default: a fresh tmpfs, so the numbers show the daemon, not the disk) gets src/ and
# mnt/; the daemon serves src on mnt. For each of mnt and src it reports the median of three:
#   - sequential write: dd 2 GiB in 1 MiB blocks over an existing file (conv=notrunc, then fsync),
#   - sequential read: dd 2 GiB in 1 MiB blocks after dropping the page cache (the FUSE page
#     cache goes; a tmpfs share keeps its pages, so a read measures the daemon),
#   - fio sequential read and write, 1 MiB blocks, psync, 1 GiB,
#   - small files: python creates 10 000 files of 4 KiB (open, write, close), files/s.
# Needs root (mount, drop_caches), dd, fio, python3.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../../.." && pwd)"
BASE="${1:-}"
shift || true
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
OWN_TMPFS=0
if [ -z "$BASE" ]; then
  BASE="$(mktemp -d /tmp/vfs-bench-XXXXXX)"
  mount -t tmpfs -o size=5G tmpfs "$BASE"
  OWN_TMPFS=1
fi
mkdir -p "$BASE/src" "$BASE/mnt"
LOG="$(mktemp)"
"$REPO/build/Release/virtiofsd-ts" --shared-dir "$BASE/src" --mount "$BASE/mnt" "${EXTRA[@]}" 2>"$LOG" &
PID=$!
cleanup() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  if [ "$OWN_TMPFS" = 1 ]; then umount "$BASE" && rmdir "$BASE"; fi
  rm -f "$LOG"
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q '^Mounted ' "$LOG" && break; sleep 0.05; done
grep -q '^Mounted ' "$LOG" || { cat "$LOG"; exit 1; }

median() { sort -g | sed -n 2p; }
dd_rate() { # prints MB/s from dd's summary line (bytes / seconds)
  LC_ALL=C dd "$@" 2>&1 | awk '/copied/ { printf "%.0f\n", $1 / $(NF-3) / 1e6 }'
}
fio_rate() { # $1 dir, $2 rw → MB/s
  fio --name=b --directory="$1" --size=1G --bs=1M --rw="$2" --ioengine=psync --end_fsync=1 \
    --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; k="read" if j["read"]["io_bytes"] else "write"; print(round(j[k]["bw_bytes"]/1e6))'
}
small_files() { # $1 dir → files/s
  python3 - "$1" <<'EOF'
import os, sys, time
d = os.path.join(sys.argv[1], "small")
os.makedirs(d, exist_ok=True)
data = b"x" * 4096
t = time.perf_counter()
for i in range(10000):
    fd = os.open(os.path.join(d, f"f{i}"), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.close(fd)
print(round(10000 / (time.perf_counter() - t)))
EOF
  rm -rf "$1/small"
}

printf '%-4s %12s %12s %12s %12s %14s\n' where 'dd write' 'dd read' 'fio write' 'fio read' 'small files/s'
for where in mnt src; do
  dir="$BASE/$where"
  dd if=/dev/zero of="$dir/big" bs=1M count=2048 status=none
  w=$(for _ in 1 2 3; do dd_rate if=/dev/zero of="$dir/big" bs=1M count=2048 conv=notrunc,fsync; done | median)
  r=$(for _ in 1 2 3; do sync; echo 3 >/proc/sys/vm/drop_caches; dd_rate if="$dir/big" of=/dev/null bs=1M; done | median)
  rm -f "$dir/big"
  fw=$(for _ in 1 2 3; do fio_rate "$dir" write; done | median)
  fr=$(for _ in 1 2 3; do echo 3 >/proc/sys/vm/drop_caches; fio_rate "$dir" read; done | median)
  rm -f "$dir"/b.*
  sf=$(for _ in 1 2 3; do small_files "$dir"; done | median)
  printf '%-4s %9s MB/s %7s MB/s %7s MB/s %7s MB/s %14s\n' "$where" "$w" "$r" "$fw" "$fr" "$sf"
done

#!/bin/bash
# Build the end-to-end test guest: a Debian kernel image and a base initramfs.
#
# Output (in $GUEST_CACHE_DIR, default <repo>/.cache/guest):
#   vmlinuz         the kernel of the .deb that linux-image-amd64 depends on
#   base.cpio.gz    busybox-static + fio (with its libraries and loader) + the
#                   virtio-fs kernel modules + /init
#
# /init loads the modules, mounts proc/sys/dev, mounts the virtio-fs share
# (tag from the kernel command line `vfs_tag=TAG`, default "myfs") on /mnt,
# runs /test.sh (supplied by a second, per-test cpio appended after this one),
# prints `GUEST-RESULT: PASS` or `GUEST-RESULT: FAIL rc=N` and powers off.
#
# Rebuilds only when an input changes (stamp file). Prints KEY=VALUE lines on
# stdout at the end: GUEST_KERNEL=..., GUEST_INITRD=..., GUEST_KVER=...,
# GUEST_DEB=... (the kernel .deb used, for callers that need more of its modules)
#
# Env:
#   GUEST_CACHE_DIR   cache directory (default <repo>/.cache/guest)
#   KERNEL_DEB        use this kernel .deb instead of `apt-get download`
#   GUEST_FORCE=1     rebuild even if the stamp matches
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
CACHE=${GUEST_CACHE_DIR:-$REPO_DIR/.cache/guest}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: ERROR: $*" >&2; exit 1; }

for tool in dpkg-deb cpio gzip ldd sha256sum; do
    command -v "$tool" >/dev/null || die "missing tool: $tool (run .ci/prereqs.sh)"
done
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "missing $BUSYBOX (apt-get install busybox-static)"
"$BUSYBOX" --list | grep -qx sh || die "$BUSYBOX has no sh applet"
# The static busybox must really be static: ldd says "not a dynamic executable".
if ldd "$BUSYBOX" >/dev/null 2>&1; then die "$BUSYBOX is not statically linked (need busybox-static)"; fi
FIO=$(command -v fio) || die "missing fio (apt-get install fio)"

# ---------------------------------------------------------------- kernel .deb
KPKG=""
find_kpkg() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
if [ -n "${KERNEL_DEB:-}" ]; then
    [ -f "$KERNEL_DEB" ] || die "KERNEL_DEB=$KERNEL_DEB does not exist"
    DEB=$(cd "$(dirname "$KERNEL_DEB")" && pwd)/$(basename "$KERNEL_DEB")
else
    KPKG=$(find_kpkg || true)
    if [ -z "$KPKG" ]; then
        log "apt-cache does not know linux-image-amd64; running apt-get update"
        apt-get update -qq >&2 || true
        KPKG=$(find_kpkg || true)
    fi
    [ -n "$KPKG" ] || die "cannot resolve the package linux-image-amd64 depends on"
    DEB=$(ls -1 "$CACHE/${KPKG}_"*.deb 2>/dev/null | sort -V | tail -n1 || true)
    if [ -z "$DEB" ]; then
        log "downloading $KPKG"
        (cd "$CACHE" && apt-get download "$KPKG" >&2) \
            || { apt-get update -qq >&2 || true; (cd "$CACHE" && apt-get download "$KPKG" >&2); } \
            || die "apt-get download $KPKG failed"
        DEB=$(ls -1 "$CACHE/${KPKG}_"*.deb 2>/dev/null | sort -V | tail -n1 || true)
        [ -n "$DEB" ] || die "apt-get download $KPKG produced no .deb in $CACHE"
        # drop kernels of older linux-image-amd64 dependencies
        for old in "$CACHE"/linux-image-*.deb; do
            [ "$old" = "$DEB" ] || rm -f "$old"
        done
    fi
fi

# ---------------------------------------------------------------- stamp check
pkgver() { dpkg-query -W -f='${Package}=${Version}' "$1" 2>/dev/null || echo "$1=unknown"; }
INPUTS=$(
    sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
    echo "deb=$(basename "$DEB") $(stat -c %s "$DEB")"
    echo "busybox=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)"
    echo "fio=$(sha256sum "$FIO" | cut -d' ' -f1)"
    pkgver busybox-static; echo; pkgver fio; echo; pkgver libc6; echo
)
WANT=$(printf '%s' "$INPUTS" | sha256sum | cut -d' ' -f1)
STAMP=$CACHE/stamp
emit() {
    echo "GUEST_KERNEL=$CACHE/vmlinuz"
    echo "GUEST_INITRD=$CACHE/base.cpio.gz"
    echo "GUEST_KVER=$(cat "$CACHE/kver")"
    echo "GUEST_DEB=$DEB"
}
if [ "${GUEST_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
    && [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/base.cpio.gz" ] && [ -s "$CACHE/kver" ]; then
    log "up to date ($CACHE)"
    emit
    exit 0
fi
rm -f "$STAMP"

T0=$(date +%s)
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- kernel + modules
log "extracting $(basename "$DEB")"
dpkg-deb -x "$DEB" "$WORK/deb"
KVER=$(ls -1 "$WORK/deb/lib/modules" 2>/dev/null | head -n1 || true)
[ -n "$KVER" ] || KVER=$(ls -1 "$WORK/deb/usr/lib/modules" | head -n1)
[ -n "$KVER" ] || die "no lib/modules/<version> in $DEB"
MODDIR=$WORK/deb/lib/modules/$KVER
[ -d "$MODDIR" ] || MODDIR=$WORK/deb/usr/lib/modules/$KVER
[ -f "$WORK/deb/boot/vmlinuz-$KVER" ] || die "no boot/vmlinuz-$KVER in $DEB"

ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,mnt,tmp,etc,root,modules,lib64,lib/x86_64-linux-gnu}
chmod 1777 "$ROOT/tmp"

# insmod order matters: there is no modules.dep.
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci fuse virtiofs overlay"
for m in $MODULES; do
    f=$(find "$MODDIR" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" | head -n1)
    if [ -z "$f" ]; then
        # Built into the kernel? Then modules.builtin names it and no insmod is needed.
        if grep -q "/$m.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; then
            log "module $m is built in"; continue
        fi
        die "module $m not found in $DEB"
    fi
    case "$f" in
        *.ko.xz)  xz -dc "$f" > "$ROOT/modules/$m.ko" ;;
        *.ko.zst) zstd -qdc "$f" > "$ROOT/modules/$m.ko" ;;
        *.ko.gz)  gzip -dc "$f" > "$ROOT/modules/$m.ko" ;;
        *)        cp "$f" "$ROOT/modules/$m.ko" ;;
    esac
    echo "$m" >> "$ROOT/modules/order"
done
touch "$ROOT/modules/order"

# ---------------------------------------------------------------- busybox
cp "$BUSYBOX" "$ROOT/bin/busybox"
"$BUSYBOX" --list-full | while read -r p; do
    [ "$p" = "bin/busybox" ] && continue
    mkdir -p "$ROOT/$(dirname "$p")"
    ln -sf /bin/busybox "$ROOT/$p"
done

# ---------------------------------------------------------------- fio + libs
cp "$FIO" "$ROOT/usr/bin/fio"
ldd "$FIO" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | sort -u | while read -r lib; do
    mkdir -p "$ROOT/$(dirname "$lib")"
    cp -L "$lib" "$ROOT/$lib"
done
INTERP=$(readelf -l "$FIO" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p' || true)
INTERP=${INTERP:-/lib64/ld-linux-x86-64.so.2}
mkdir -p "$ROOT/$(dirname "$INTERP")"
cp -L "$INTERP" "$ROOT/$INTERP"

# ---------------------------------------------------------------- /etc
cat > "$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/tmp:/bin/sh
EOF
cat > "$ROOT/etc/group" <<'EOF'
root:x:0:
tester:x:1000:
EOF
echo /bin/sh > "$ROOT/etc/shells"

# ---------------------------------------------------------------- /init
cat > "$ROOT/init" <<'EOF'
#!/bin/sh
# virtiofsd-ts e2e guest init
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu/ceph
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp

finish() {
    echo ""
    echo "GUEST-RESULT: $1"
    sync
    poweroff -f
    sleep 5
    echo o > /proc/sysrq-trigger
}

echo "GUEST-INIT: kernel $(uname -r), loading modules"
while read -r m; do
    insmod "/modules/$m.ko" || { echo "GUEST-INIT: insmod $m failed"; finish "FAIL rc=200"; }
done < /modules/order

TAG=myfs
for arg in $(cat /proc/cmdline); do
    case "$arg" in vfs_tag=*) TAG=${arg#vfs_tag=} ;; esac
done
MOUNT_OPTS=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in vfs_opts=*) MOUNT_OPTS="-o ${arg#vfs_opts=}" ;; esac
done

i=0
until mount -t virtiofs $MOUNT_OPTS "$TAG" /mnt; do
    i=$((i + 1))
    if [ "$i" -ge 5 ]; then
        echo "GUEST-INIT: mount -t virtiofs $TAG /mnt failed"
        dmesg | tail -n 20
        finish "FAIL rc=201"
    fi
    sleep 1
done
echo "GUEST-INIT: mounted virtiofs tag=$TAG on /mnt"

if [ ! -f /test.sh ]; then
    echo "GUEST-INIT: no /test.sh in the initramfs"
    finish "FAIL rc=202"
fi
start=$(cut -d' ' -f1 /proc/uptime)
(cd /mnt && sh /test.sh)
rc=$?
end=$(cut -d' ' -f1 /proc/uptime)
echo "GUEST-INIT: /test.sh exited rc=$rc (uptime $start -> $end s)"
sync
cd /
if ! umount /mnt; then
    echo "GUEST-INIT: umount /mnt failed"
    [ "$rc" -eq 0 ] && rc=203
fi
if [ "$rc" -eq 0 ]; then finish PASS; else finish "FAIL rc=$rc"; fi
EOF
chmod 755 "$ROOT/init"

# ---------------------------------------------------------------- pack
log "packing initramfs"
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) \
    | gzip -1 > "$WORK/base.cpio.gz"
cp "$WORK/deb/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
echo "$KVER" > "$WORK/kver"
mv -f "$WORK/vmlinuz" "$CACHE/vmlinuz"
mv -f "$WORK/base.cpio.gz" "$CACHE/base.cpio.gz"
mv -f "$WORK/kver" "$CACHE/kver"
echo "$WANT" > "$STAMP"
log "built kernel $KVER + $(du -h "$CACHE/base.cpio.gz" | cut -f1) initramfs in $(( $(date +%s) - T0 ))s"
emit

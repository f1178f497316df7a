#!/bin/bash
# Install (as root, if missing) and verify the host packages the end-to-end guest tests need.
# Idempotent. Exits non-zero, naming what is missing, if anything is still missing afterwards.
# It does not build the guest: test/guest/build-guest.sh does that lazily (cached).
set -uo pipefail

# debootstrap: test/guest/qemu-sid.sh builds a Debian sid chroot holding QEMU 11.x (DAX window tests)
# clang-format: `npm run lint` checks native/ with it (.ci/clang-format-check.sh)
PACKAGES="qemu-system-x86 busybox-static fio cpio qemu-system-common libfuse2 python3 debootstrap clang-format"
# What must exist afterwards (package -> file or command it provides).
check_all() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=("qemu-system-x86_64 (qemu-system-x86)")
    [ -x /bin/busybox ] || missing+=("/bin/busybox (busybox-static)")
    command -v fio >/dev/null || missing+=("fio")
    command -v cpio >/dev/null || missing+=("cpio")
    [ -x /usr/lib/qemu/virtiofsd ] || missing+=("/usr/lib/qemu/virtiofsd (qemu-system-common)")
    ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2' || missing+=("libfuse.so.2 (libfuse2)")
    [ -x /usr/bin/python3 ] || command -v python3 >/dev/null || missing+=("python3")
    [ -x /usr/sbin/debootstrap ] || missing+=("/usr/sbin/debootstrap (debootstrap)")
    command -v clang-format >/dev/null || missing+=("clang-format")
    for tool in dpkg-deb apt-get gzip ldd sha256sum unshare chroot flock; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    printf '%s\n' "${missing[@]}"
}

not_installed() {
    local p
    for p in $PACKAGES; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
            echo "$p"
        fi
    done
}

TODO=$(not_installed | tr '\n' ' ')
if [ -n "${TODO// /}" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "prereqs: not root, cannot install: $TODO" >&2
    else
        echo "prereqs: installing $TODO" >&2
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        if ! apt-get install -y --no-install-recommends $TODO; then
            echo "prereqs: install failed, running apt-get update and retrying" >&2
            apt-get update && apt-get install -y --no-install-recommends $TODO
        fi
    fi
fi

MISSING=$(check_all)
STILL=$(not_installed | tr '\n' ' ')
if [ -n "$MISSING" ] || [ -n "${STILL// /}" ]; then
    echo "prereqs: MISSING after install attempt:" >&2
    [ -n "$MISSING" ] && echo "$MISSING" | sed 's/^/  - /' >&2
    [ -n "${STILL// /}" ] && echo "  - packages not installed: $STILL" >&2
    exit 1
fi
echo "prereqs: ok ($(qemu-system-x86_64 --version | head -n1); fio $(fio --version))"

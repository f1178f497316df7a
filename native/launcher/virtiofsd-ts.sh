#!/bin/sh
# npm's `virtiofsd-ts` command: runs the launcher, build/Release/virtiofsd-ts (launcher.c). npm
# cannot link the launcher itself: it links a package's bins before the install script builds
# them, and skips a bin that does not exist yet. Point Kata, libvirt and service files at
# build/Release/virtiofsd-ts directly: this wrapper adds a shell and a readlink to every start.
self=$(readlink -f "$0") || exit 1
exec "${self%/*}/../../build/Release/virtiofsd-ts" "$@"

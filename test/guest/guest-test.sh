#!/bin/sh
# virtiofsd-ts end-to-end guest workload.
#
# Runs INSIDE the test guest (busybox sh + fio, as root) against the virtio-fs
# share mounted on /mnt. Every operation is followed by an explicit comparison;
# the first mismatch prints `CHECK-FAIL: ...` and exits non-zero.
#
# Leaves /mnt/result/ behind for the host-side checks (see run-guest.ts,
# checkResultTree): contents, modes, owners, link counts and a guest-side
# manifest the host compares with its own lstat().
#
# fio summary lines are printed as `FIO-SUMMARY <job> <read|write>: IOPS=..., BW=...`.
set -eu

M=${MNT:-/mnt}
W=$M/work
R=$M/result

SECTION=start
REPORTED=0
fail() { echo "CHECK-FAIL: [$SECTION] $*"; REPORTED=1; exit 1; }
# set -e aborts (a command failed outright) are reported too, with the section they happened in
on_exit() {
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$REPORTED" = 0 ]; then
        echo "CHECK-FAIL: [$SECTION] a command failed (exit status $rc), see the lines above"
    fi
}
trap on_exit EXIT
# eq DESCRIPTION EXPECTED ACTUAL
eq() {
    if [ "$2" != "$3" ]; then fail "$1: expected [$2] got [$3]"; fi
}
exists() { [ -e "$1" ] || [ -L "$1" ] || fail "$1 should exist"; }
absent() { if [ -e "$1" ] || [ -L "$1" ]; then fail "$1 should not exist"; fi; }
now() { cut -d' ' -f1 /proc/uptime; }
T_SECTION=$(now)
section() {
    t=$(now)
    echo "SECTION-DONE $SECTION ($(awk -v a="$T_SECTION" -v b="$t" 'BEGIN { printf "%.2f", b - a }')s)"
    T_SECTION=$t
}

rm -rf "$W" "$R"
mkdir "$W" "$R"
cd "$W"

# ------------------------------------------------------------------ host -> guest
# The host may seed /mnt/seed (run-guest.ts seedShare): check what it wrote, then delete it.
SECTION=host-seed
if [ -d "$M/seed" ]; then
    eq "seed hello content" "from the host" "$(cat "$M/seed/hello.txt")"
    eq "seed hello mode" 604 "$(stat -c %a "$M/seed/hello.txt")"
    eq "seed hello owner" "4321:8765" "$(stat -c %u:%g "$M/seed/hello.txt")"
    eq "seed symlink" "hello.txt" "$(readlink "$M/seed/link")"
    eq "seed big.bin sha256" "$(cat "$M/seed/big.sha256")" "$(sha256sum "$M/seed/big.bin" | cut -d' ' -f1)"
    eq "seed subdir file" "nested" "$(cat "$M/seed/sub/dir/nested.txt")"
    rm -rf "$M/seed"
    absent "$M/seed"
else
    echo "SKIP: no host seed in $M/seed"
fi
section

# ------------------------------------------------------------------ basic I/O
SECTION=create-write-read
: > empty
exists empty
eq "empty file size" 0 "$(stat -c %s empty)"
printf 'hello virtio-fs\n' > f
eq "read back" "hello virtio-fs" "$(cat f)"
eq "size after write" 16 "$(stat -c %s f)"
# overwrite in the middle without truncating
printf 'HELLO' | dd of=f bs=1 seek=0 conv=notrunc 2>/dev/null
eq "overwrite in place" "HELLO virtio-fs" "$(cat f)"
section

SECTION=append
printf 'second line\n' >> f
eq "append content" "HELLO virtio-fs
second line" "$(cat f)"
eq "size after append" 28 "$(stat -c %s f)"
section

SECTION=truncate
truncate -s 5 f
eq "shrink size" 5 "$(stat -c %s f)"
eq "shrink content" "HELLO" "$(cat f)"
truncate -s 8192 f
eq "grow size" 8192 "$(stat -c %s f)"
eq "grow keeps head" "HELLO" "$(head -c 5 f)"
eq "grown tail is zeros" 0 "$(tail -c 8187 f | tr -d '\000' | wc -c)"
truncate -s 0 f
eq "truncate to zero" 0 "$(stat -c %s f)"
# O_TRUNC on open
printf 'abcdef' > g
printf 'xy' > g
eq "O_TRUNC rewrite" "xy" "$(cat g)"
section

SECTION=rename
printf 'move me\n' > a
mv a b
absent a
eq "renamed file content" "move me" "$(cat b)"
printf 'victim\n' > c
mv b c
absent b
eq "rename over existing" "move me" "$(cat c)"
mkdir -p d1/sub
printf 'deep\n' > d1/sub/file
mv d1 d2
absent d1
eq "renamed dir content" "deep" "$(cat d2/sub/file)"
mkdir other
mv d2 other/d3
eq "dir moved into other dir" "deep" "$(cat other/d3/sub/file)"
mv other/d3/sub/file other/moved
eq "file moved across dirs" "deep" "$(cat other/moved)"
absent other/d3/sub/file
section

SECTION=hardlink
printf 'linked\n' > h1
ln h1 h2
eq "nlink after link" 2 "$(stat -c %h h1)"
eq "nlink of new name" 2 "$(stat -c %h h2)"
eq "same inode" "$(stat -c %i h1)" "$(stat -c %i h2)"
eq "same content" "$(cat h1)" "$(cat h2)"
printf 'more\n' >> h2
eq "write via link visible" "linked
more" "$(cat h1)"
rm h2
eq "nlink after unlink" 1 "$(stat -c %h h1)"
section

SECTION=symlink
ln -s h1 s1
[ -L s1 ] || fail "s1 is not a symlink"
eq "readlink" "h1" "$(readlink s1)"
eq "read through symlink" "$(cat h1)" "$(cat s1)"
ln -s /nonexistent/target dangling
eq "dangling readlink" "/nonexistent/target" "$(readlink dangling)"
if cat dangling 2>/dev/null; then fail "reading a dangling symlink succeeded"; fi
eq "symlink size" 2 "$(stat -c %s s1)"
section

SECTION=chmod
printf 'mode\n' > m
chmod 0751 m
eq "chmod 0751" 751 "$(stat -c %a m)"
chmod 0600 m
eq "chmod 0600" 600 "$(stat -c %a m)"
mkdir md
chmod 0700 md
eq "chmod dir 0700" 700 "$(stat -c %a md)"
section

SECTION=chown
printf 'own\n' > o
chown 1234:5678 o
eq "chown uid" 1234 "$(stat -c %u o)"
eq "chown gid" 5678 "$(stat -c %g o)"
eq "content after chown" "own" "$(cat o)"
mkdir userdir
chmod 1777 userdir
if command -v su >/dev/null 2>&1 && grep -q '^tester:' /etc/passwd; then
    su -s /bin/sh tester -c "printf 'by tester\n' > $W/userdir/ufile"
    eq "file created by uid 1000: uid" 1000 "$(stat -c %u userdir/ufile)"
    eq "file created by uid 1000: gid" 1000 "$(stat -c %g userdir/ufile)"
    eq "file created by uid 1000: content" "by tester" "$(cat userdir/ufile)"
    printf 'root only\n' > rootfile
    chmod 0644 rootfile
    if su -s /bin/sh tester -c "printf x >> $W/rootfile" 2>/dev/null; then
        fail "uid 1000 could append to a root-owned 0644 file"
    fi
    eq "root file untouched" "root only" "$(cat rootfile)"
else
    echo "SKIP: non-root file creation (no su and tester user in this guest)"
fi
section

SECTION=mkdir-rmdir
mkdir -p t1/t2/t3
[ -d t1/t2/t3 ] || fail "mkdir -p t1/t2/t3"
rmdir t1/t2/t3
absent t1/t2/t3
if rmdir t1 2>/dev/null; then fail "rmdir of a non-empty dir succeeded"; fi
[ -d t1/t2 ] || fail "t1/t2 vanished after failed rmdir"
rmdir t1/t2 t1
absent t1
if mkdir md 2>/dev/null; then fail "mkdir of an existing dir succeeded"; fi
section

SECTION=dir-1000
mkdir many
i=0
while [ $i -lt 1000 ]; do
    : > many/entry-$i
    echo "entry-$i" >> /tmp/expected-many
    i=$((i + 1))
done
eq "1000 entries listed" 1000 "$(ls -1 many | wc -l)"
ls -1 many | LC_ALL=C sort > /tmp/got-many
LC_ALL=C sort /tmp/expected-many > /tmp/expected-many.sorted
cmp -s /tmp/expected-many.sorted /tmp/got-many || fail "listing of many/ differs from the created names"
eq "ls -l lists 1000 entries" 1001 "$(ls -l many | wc -l)"
eq "find counts 1000 files" 1000 "$(find many -type f | wc -l)"
rm -rf many
absent many
section

SECTION=cp-a-diff
mkdir -p tree/a/b tree/c
printf 'one\n' > tree/one
printf 'two\n' > tree/a/two
seq 1 5000 > tree/a/b/seq
chmod 0640 tree/a/two
chmod 0750 tree/c
ln -s ../one tree/a/link-to-one
dd if=/dev/urandom of=tree/c/random bs=4096 count=64 2>/dev/null
cp -a tree tree2
diff -r tree tree2 || fail "diff -r tree tree2"
eq "cp -a keeps mode" 640 "$(stat -c %a tree2/a/two)"
eq "cp -a keeps dir mode" 750 "$(stat -c %a tree2/c)"
eq "cp -a keeps symlink" "../one" "$(readlink tree2/a/link-to-one)"
eq "cp -a keeps mtime" "$(stat -c %Y tree/c/random)" "$(stat -c %Y tree2/c/random)"
# a tree of binaries from the guest's own root (modules, fio)
cp -a /modules modcopy
diff -r /modules modcopy || fail "diff -r /modules modcopy"
cp /usr/bin/fio fio.copy
cmp /usr/bin/fio fio.copy || fail "cmp fio copy"
section

SECTION=statfs
df "$M" > /tmp/df.out || fail "statfs on $M"
grep -q "$M" /tmp/df.out || fail "df does not list $M"
section

# ------------------------------------------------------------------ fio
mkdir fio
FIO_FAIL=0
run_fio() {
    name=$1; shift
    if ! fio --name="$name" --directory="$W/fio" --filename="$name.dat" --ioengine=psync \
        --output-format=normal "$@" > /tmp/fio-$name.out 2>&1; then
        cat /tmp/fio-$name.out
        fail "fio $name exited non-zero"
    fi
    grep -q 'err= 0' /tmp/fio-$name.out || { cat /tmp/fio-$name.out; fail "fio $name reported an error"; }
    if grep -qi 'verify.*\(fail\|bad\|mismatch\)' /tmp/fio-$name.out; then
        cat /tmp/fio-$name.out; fail "fio $name reported a verify failure"
    fi
    grep -E '^ *(read|write): IOPS=' /tmp/fio-$name.out | sed "s/^ */FIO-SUMMARY $name /"
    rm -f "$W/fio/$name.dat"
}
VERIFY="--verify=crc32c --do_verify=1 --verify_fatal=1 --end_fsync=1"

SECTION=fio-seq-1m
run_fio seq-write-1m --rw=write --bs=1m --size=32m $VERIFY
section
SECTION=fio-seq-64k
run_fio seq-write-64k --rw=write --bs=64k --size=16m $VERIFY
section
SECTION=fio-rand-4k
run_fio rand-write-4k --rw=randwrite --bs=4k --size=16m $VERIFY
section
SECTION=fio-rand-64k
run_fio rand-write-64k --rw=randwrite --bs=64k --size=16m $VERIFY
section
SECTION=fio-rand-4k-direct
run_fio rand-write-4k-direct --rw=randwrite --bs=4k --size=8m --direct=1 $VERIFY
section
SECTION=fio-randread-4k
# lay out a file, then a short time-based random read run (read IOPS figure)
run_fio rand-read-4k --rw=randread --bs=4k --size=16m --time_based=1 --runtime=5s
section
SECTION=fio-mmap
fio --name=mmap-64k --directory="$W/fio" --filename=mmap.dat --ioengine=mmap --rw=randwrite \
    --bs=64k --size=8m $VERIFY --output-format=normal > /tmp/fio-mmap.out 2>&1 \
    || { cat /tmp/fio-mmap.out; fail "fio mmap exited non-zero"; }
grep -q 'err= 0' /tmp/fio-mmap.out || { cat /tmp/fio-mmap.out; fail "fio mmap reported an error"; }
rm -f "$W/fio/mmap.dat"
section

# ------------------------------------------------------------------ results for the host
SECTION=result-tree
cd "$R"
printf 'hello virtio-fs\n' > data.txt
chmod 0640 data.txt
ln data.txt hard.txt
ln -s data.txt sym
printf 'owned\n' > owned.txt
chmod 0600 owned.txt
chown 1234:5678 owned.txt
if command -v su >/dev/null 2>&1 && grep -q '^tester:' /etc/passwd; then
    mkdir -m 1777 userdir
    su -s /bin/sh tester -c "printf 'user\n' > $R/userdir/user.txt"
fi
seq 1 20000 > seq.txt
truncate -s 1048576 sparse.bin
printf 'short' > truncated.txt
truncate -s 100 truncated.txt
mkdir -p dir-a/inner
printf 'inner\n' > dir-a/inner/file.txt
mv dir-a renamed-dir
mkdir emptydir
chmod 0700 emptydir
mkfifo fifo
# guest view: path|raw mode (hex)|uid|gid|size|nlink ; the host compares with lstat()
find . -mindepth 1 ! -name manifest.txt | LC_ALL=C sort | while read -r p; do
    case "$(stat -c %F "$p")" in
        directory) stat -c '%n|%f|%u|%g|-|-' "$p" ;;
        *) stat -c '%n|%f|%u|%g|%s|%h' "$p" ;;
    esac
done > manifest.txt
sync
section

# ------------------------------------------------------------------ cleanup
SECTION=cleanup
cd "$M"
rm -rf "$W"
absent "$W"
eq "share root holds only result/" "result" "$(ls -1A "$M")"
section

echo "GUEST-TEST: all checks passed"

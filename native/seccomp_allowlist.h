// The seccomp allow-list of the serving daemon: every system call Node, libuv, V8, glibc and our
// addon make once the sandbox is locked down (after start-up: module loading, mounts, pivot_root
// and capability changes are over by then). Anything else gets the --seccomp action.
//
// How the list was made and how to regenerate it: docs/seccomp.md. In short,
//   VIRTIOFSD_TS_SECCOMP_LEARN=/tmp/learn.txt npm test      (unit + integration + guest tests)
//   node dist/sandbox/seccomp-report.js /tmp/learn.txt
// runs every daemon with a filter that allows only the few calls the recorder itself needs and
// reports each other call it sees (SECCOMP_RET_USER_NOTIF, then continued), and prints what is
// missing from or unused in this list.
//
// Groups:
//   VFS_SECCOMP_MEASURED       recorded in that measurement (the unit and integration suites and
//                              the guest tests, all daemons in learning mode), plus the calls the
//                              recorder needs itself;
//   VFS_SECCOMP_PLANNED        not recorded, each group with its reason: threads created after
//                              lock-down, rare paths of glibc/V8/libuv, passthrough paths not
//                              exercised yet (xattrs by path), crash reporting;
//   VFS_SECCOMP_LEGACY         x86_64-only spellings glibc or V8 may still use.
// Calls with argument checks (sandbox_seccomp.cc builds them, whatever the group):
//   clone   only with CLONE_THREAD (threads yes, processes no);
//   clone3  always fails with ENOSYS (its flags live in memory a filter cannot read; glibc then
//           falls back to clone);
//   socket  only AF_UNIX (glibc's syslog(3) reconnects after a syslogd restart).
// Never here, on purpose: execve/execveat, fork/vfork, ptrace, mount/umount2/pivot_root/chroot,
// unshare/setns, bpf, io_uring_*, kexec_*, *_module, keyctl, add_key, perf_event_open, userfaultfd,
// process_vm_*, and setuid/setgid-family calls that change real/effective ids.
#pragma once

// Recorded by the measurement, plus the calls the recorder itself needs (and so cannot record):
// exit exit_group futex ioctl read restart_syscall rt_sigreturn write.
#define VFS_SECCOMP_MEASURED(X) \
  X(accept4) \
  X(brk) \
  X(clone3) \
  X(close) \
  X(connect) \
  X(copy_file_range) \
  X(epoll_ctl) \
  X(epoll_pwait) \
  X(exit) \
  X(exit_group) \
  X(faccessat2) \
  X(fallocate) \
  X(fchmod) \
  X(fchmodat) \
  X(fchownat) \
  X(fcntl) \
  X(fdatasync) \
  X(fgetxattr) \
  X(flistxattr) \
  X(flock) \
  X(fremovexattr) \
  X(fsetxattr) \
  X(fstatfs) \
  X(fsync) \
  X(ftruncate) \
  X(futex) \
  X(getdents64) \
  X(getgroups) \
  X(getpid) \
  X(ioctl) \
  X(linkat) \
  X(lseek) \
  X(madvise) \
  X(mkdirat) \
  X(mknodat) \
  X(mmap) \
  X(mprotect) \
  X(munmap) \
  X(name_to_handle_at) \
  X(newfstatat) \
  X(open_by_handle_at) \
  X(openat) \
  X(openat2) \
  X(preadv) \
  X(pwritev) \
  X(read) \
  X(readlinkat) \
  X(recvmsg) \
  X(renameat2) \
  X(restart_syscall) \
  X(rseq) \
  X(rt_sigaction) \
  X(rt_sigprocmask) \
  X(rt_sigreturn) \
  X(sched_getaffinity) \
  X(sched_yield) \
  X(sendmsg) \
  X(sendto) \
  X(set_robust_list) \
  X(setfsgid) \
  X(setfsuid) \
  X(setgroups) \
  X(socket) \
  X(statx) \
  X(symlinkat) \
  X(syncfs) \
  X(tgkill) \
  X(unlinkat) \
  X(utimensat) \
  X(write)

#define VFS_SECCOMP_PLANNED(X) \
  /* threads created after lock-down (libuv pool, V8 workers, lock waiters) */ \
  X(clone) \
  X(sigaltstack) \
  X(prctl) \
  X(gettid) \
  X(membarrier) \
  /* memory and time (glibc, V8) */ \
  X(mremap) \
  X(getrandom) \
  X(clock_gettime) \
  X(clock_getres) \
  X(clock_nanosleep) \
  X(nanosleep) \
  X(gettimeofday) \
  /* I/O primitives of Node, libuv and the addon not hit by the tests */ \
  X(pread64) \
  X(pwrite64) \
  X(readv) \
  X(writev) \
  X(preadv2) \
  X(pwritev2) \
  X(dup) \
  X(dup3) \
  X(pipe2) \
  X(eventfd2) \
  X(epoll_create1) \
  X(epoll_pwait2) \
  X(ppoll) \
  X(fchdir) \
  X(getcwd) \
  X(umask) \
  /* stdio on a socket (journald, socketpairs): libuv asks what it is */ \
  X(getsockname) \
  X(getpeername) \
  X(getsockopt) \
  /* passthrough paths not exercised yet: xattrs by path (symlinks, special files), fchown */ \
  X(getxattr) \
  X(setxattr) \
  X(listxattr) \
  X(removexattr) \
  X(lgetxattr) \
  X(lsetxattr) \
  X(llistxattr) \
  X(lremovexattr) \
  X(fchown) \
  /* DAX range copies (src/dax/range-copy.ts): the memfd behind what QEMU 11 cannot map from a file */ \
  X(memfd_create) \
  /* credentials read back by glibc / Node */ \
  X(capget) \
  X(getuid) \
  X(geteuid) \
  X(getgid) \
  X(getegid) \
  /* crash reporting (abort) */ \
  X(tkill)

// x86_64 only (fstat and unlink were recorded there too).
#if defined(__x86_64__)
#define VFS_SECCOMP_LEGACY(X) \
  X(epoll_wait) \
  X(fstat) \
  X(getdents) \
  X(lstat) \
  X(open) \
  X(poll) \
  X(readlink) \
  X(renameat) \
  X(stat) \
  X(time) \
  X(unlink)
#else
#define VFS_SECCOMP_LEGACY(X)
#endif

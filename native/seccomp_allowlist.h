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
//   VFS_SECCOMP_MEASURED       seen in that measurement (the full test suite + the guest tests);
//   VFS_SECCOMP_PLANNED        not (yet) seen, but made by passthrough features that DESIGN.md
//                              assigns to the addon (xattrs, file handles, locks, fallocate, …)
//                              or by rare paths (errors, crash reporting, syslog reconnect);
//   VFS_SECCOMP_LEGACY         x86_64-only legacy spellings glibc or V8 may still use.
// Calls with argument checks (sandbox.cc builds them, whatever the group):
//   clone   only with CLONE_THREAD (threads yes, processes no);
//   clone3  always fails with ENOSYS (its flags live in memory a filter cannot read; glibc then
//           falls back to clone);
//   socket  only AF_UNIX (glibc's syslog(3) reconnects after a syslogd restart).
// Never here, on purpose: execve/execveat, fork/vfork, ptrace, mount/umount2/pivot_root/chroot,
// unshare/setns, bpf, io_uring_*, kexec_*, *_module, keyctl, add_key, perf_event_open, userfaultfd,
// process_vm_*, and setuid/setgid-family calls that change real/effective ids.
#pragma once

#define VFS_SECCOMP_MEASURED(X) \
  X(accept4)                    \
  X(brk)                        \
  X(capget)                     \
  X(clock_gettime)              \
  X(clock_nanosleep)            \
  X(clone)                      \
  X(clone3)                     \
  X(close)                      \
  X(epoll_ctl)                  \
  X(epoll_pwait)                \
  X(eventfd2)                   \
  X(exit)                       \
  X(exit_group)                 \
  X(faccessat2)                 \
  X(fchmodat)                   \
  X(fchownat)                   \
  X(fcntl)                      \
  X(fdatasync)                  \
  X(fstatfs)                    \
  X(fsync)                      \
  X(ftruncate)                  \
  X(futex)                      \
  X(getdents64)                 \
  X(getpid)                     \
  X(getrandom)                  \
  X(gettid)                     \
  X(ioctl)                      \
  X(linkat)                     \
  X(lseek)                      \
  X(madvise)                    \
  X(mkdirat)                    \
  X(mknodat)                    \
  X(mmap)                       \
  X(mprotect)                   \
  X(munmap)                     \
  X(newfstatat)                 \
  X(openat)                     \
  X(openat2)                    \
  X(pread64)                    \
  X(preadv)                     \
  X(pwrite64)                   \
  X(pwritev)                    \
  X(read)                       \
  X(readlinkat)                 \
  X(recvmsg)                    \
  X(renameat2)                  \
  X(rseq)                       \
  X(rt_sigaction)               \
  X(rt_sigprocmask)             \
  X(rt_sigreturn)               \
  X(sched_yield)                \
  X(sendmsg)                    \
  X(set_robust_list)            \
  X(setfsgid)                   \
  X(setfsuid)                   \
  X(setgroups)                  \
  X(statx)                      \
  X(symlinkat)                  \
  X(unlinkat)                   \
  X(utimensat)                  \
  X(write)                      \
  X(writev)

#define VFS_SECCOMP_PLANNED(X) \
  X(clock_getres)              \
  X(close_range)               \
  X(copy_file_range)           \
  X(dup)                       \
  X(dup3)                      \
  X(epoll_create1)             \
  X(epoll_pwait2)              \
  X(fallocate)                 \
  X(fchdir)                    \
  X(fchmod)                    \
  X(fchown)                    \
  X(fgetxattr)                 \
  X(flistxattr)                \
  X(flock)                     \
  X(fremovexattr)              \
  X(fsetxattr)                 \
  X(getcwd)                    \
  X(getegid)                   \
  X(geteuid)                   \
  X(getgid)                    \
  X(getgroups)                 \
  X(getppid)                   \
  X(getresgid)                 \
  X(getresuid)                 \
  X(getrusage)                 \
  X(getuid)                    \
  X(getxattr)                  \
  X(gettimeofday)              \
  X(lgetxattr)                 \
  X(listxattr)                 \
  X(llistxattr)                \
  X(lremovexattr)              \
  X(lsetxattr)                 \
  X(membarrier)                \
  X(mremap)                    \
  X(name_to_handle_at)         \
  X(nanosleep)                 \
  X(open_by_handle_at)         \
  X(pipe2)                     \
  X(ppoll)                     \
  X(prctl)                     \
  X(preadv2)                   \
  X(prlimit64)                 \
  X(pwritev2)                  \
  X(readv)                     \
  X(recvfrom)                  \
  X(removexattr)               \
  X(restart_syscall)           \
  X(rt_sigtimedwait)           \
  X(sched_getaffinity)         \
  X(sendto)                    \
  X(connect)                   \
  X(setxattr)                  \
  X(shutdown)                  \
  X(sigaltstack)               \
  X(socket)                    \
  X(getsockopt)                \
  X(getsockname)               \
  X(getpeername)               \
  X(sync_file_range)           \
  X(syncfs)                    \
  X(tgkill)                    \
  X(tkill)                     \
  X(umask)                     \
  X(uname)

#if defined(__x86_64__)
#define VFS_SECCOMP_LEGACY(X) \
  X(epoll_wait)               \
  X(fstat)                    \
  X(getdents)                 \
  X(lstat)                    \
  X(open)                     \
  X(poll)                     \
  X(readlink)                 \
  X(renameat)                 \
  X(stat)                     \
  X(time)                     \
  X(unlink)
#else
#define VFS_SECCOMP_LEGACY(X)
#endif

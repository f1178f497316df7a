/*
 * vfs-supervisor: the small parent of a sandboxed virtiofsd-ts (docs/sandbox.md).
 *
 *   vfs-supervisor [--unlink PATH] -- PROGRAM ARG...
 *
 * The Node process that parsed the command line execs this program (same pid: whoever started
 * the daemon — QEMU's management, Kata — keeps signalling and waiting for the pid it knows).
 * It then
 *   1. clones a child into new mount, pid and net namespaces; the child sets PR_SET_PDEATHSIG
 *      (SIGKILL) so that it dies with us, and execs PROGRAM (node, the daemon in "inner" mode),
 *      which builds the rest of the sandbox itself;
 *   2. closes every descriptor it inherited beyond stdio (the listening socket belongs to the
 *      child: a second front-end must not queue on a socket nobody will accept on), drops its
 *      capabilities except CAP_DAC_OVERRIDE (to unlink the socket), sets no_new_privs;
 *   3. forwards SIGTERM, SIGINT, SIGHUP and SIGUSR1 to the child; a child still alive 10 s after the
 *      first SIGTERM/SIGINT gets SIGKILL (it is PID 1 of its namespace, which ignores signals it
 *      has no handler for yet, e.g. during start-up);
 *   4. when the child is gone: unlinks PATH (the socket the parent created; the child cannot,
 *      it no longer sees that path) and exits with the child's status — the same exit code, or
 *      the same signal re-raised (without a core dump).
 *
 * Plain C, no allocation after start, statically linked where possible: it stays a few hundred
 * KiB of RSS while the daemon runs (the point: only one Node heap per daemon).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "virtiofsd-ts"
#define GRACE_SECONDS 10

static void say(const char* a, const char* b, const char* c) {
  char line[512];
  int n = snprintf(line, sizeof(line), "%s: %s%s%s\n", PROGRAM, a, b ? b : "", c ? c : "");
  if (n > 0 && write(2, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1)) < 0) {
    /* stderr is gone */
  }
}

static void drop_caps(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (syscall(SYS_capget, &hdr, data) < 0) return;
  data[0].permitted &= (1U << CAP_DAC_OVERRIDE);
  data[0].effective = data[0].permitted;
  data[0].inheritable = 0;
  data[1].permitted = data[1].effective = data[1].inheritable = 0;
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  syscall(SYS_capset, &hdr, data);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void close_inherited(int keep) {
  for (int fd = 3; fd < 1024; fd++) {
    if (fd != keep) close(fd);
  }
  if (syscall(SYS_close_range, 1024U, ~0U, 0) < 0) {
    /* nothing open that high, or an old kernel: fine */
  }
}

static const char* signame(int sig) {
  const char* s = sigabbrev_np(sig);
  return s ? s : "?";
}

int main(int argc, char** argv) {
  const char* unlink_path = NULL;
  int i = 1;
  while (i < argc && strcmp(argv[i], "--") != 0) {
    if (strcmp(argv[i], "--unlink") == 0 && i + 1 < argc) {
      unlink_path = argv[i + 1];
      i += 2;
    } else {
      say("vfs-supervisor: unexpected argument ", argv[i], NULL);
      return 2;
    }
  }
  if (i + 1 >= argc) {
    say("usage: vfs-supervisor [--unlink PATH] -- PROGRAM ARG...", NULL, NULL);
    return 2;
  }
  char** child_argv = argv + i + 1;

  /* CVE-2022-0358: no supplementary groups, here or (inherited) in the child. */
  if (getgroups(0, NULL) > 0 && setgroups(0, NULL) < 0 && errno != EPERM) {
    say("cannot drop supplementary groups: ", strerror(errno), NULL);
    return 1;
  }

  sigset_t watched, old;
  sigemptyset(&watched);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGHUP);
  sigaddset(&watched, SIGUSR1); /* the daemon's statistics dump; by default it would kill us */
  sigaddset(&watched, SIGCHLD);
  sigprocmask(SIG_BLOCK, &watched, &old);

  /* The child learns that we died before its PR_SET_PDEATHSIG took effect from this pipe: its
   * write end is ours alone, so the read end hangs up exactly when we are gone. */
  int alive[2];
  if (pipe2(alive, O_CLOEXEC) < 0) {
    say("pipe: ", strerror(errno), NULL);
    return 1;
  }

  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD), NULL, NULL, NULL, NULL);
  if (pid < 0) {
    int err = errno;
    say("cannot create the sandbox (mount, pid and net namespaces): ", strerror(err),
        err == EPERM ? " (needs root or CAP_SYS_ADMIN; or use --sandbox=chroot|none)" : NULL);
    if (unlink_path) unlink(unlink_path);
    return 1;
  }
  if (pid == 0) {
    close(alive[1]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(1);
    struct pollfd p = {alive[0], POLLIN, 0};
    if (poll(&p, 1, 0) != 0) _exit(1); /* the supervisor is already gone */
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(child_argv[0], child_argv);
    say("cannot run ", child_argv[0], ": exec failed");
    _exit(127);
  }
  close(alive[0]);
  close_inherited(alive[1]);
  drop_caps();

  int status = 0;
  int forwarded = 0;
  time_t deadline = 0;
  for (;;) {
    siginfo_t si;
    struct timespec wait = {1, 0};
    int sig = sigtimedwait(&watched, &si, deadline ? &wait : NULL);
    if (sig < 0) {
      if (errno == EAGAIN && deadline && time(NULL) >= deadline) {
        say("the daemon did not exit ", "within 10 s of the signal: killing it", NULL);
        kill((pid_t)pid, SIGKILL);
        deadline = 0;
      }
      continue;
    }
    if (sig == SIGCHLD) {
      pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
      if (r == (pid_t)pid) break;
      continue;
    }
    /* Forwarded every time (timeout(1) and terminals signal the whole process group too, so
     * the same signal may arrive twice); the grace period starts at the first. */
    kill((pid_t)pid, sig);
    if (sig != SIGHUP && sig != SIGUSR1 && !forwarded) {
      forwarded = 1;
      deadline = time(NULL) + GRACE_SECONDS;
    }
  }

  if (unlink_path) unlink(unlink_path);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGSYS) {
      say("the daemon was killed by SIGSYS: a system call outside the seccomp allow-list",
          " (see docs/seccomp.md; the kernel log names the call: dmesg | grep 'type=1326')", NULL);
    } else if (sig != SIGKILL && sig != SIGTERM && sig != SIGINT) {
      say("the daemon was killed by SIG", signame(sig), NULL);
    }
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    raise(sig);
    return 128 + sig;
  }
  return 1;
}

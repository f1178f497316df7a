/*
 * The supervisor (see supervise.h for who runs it). Once the child is cloned it
 *   1. leaves the child — new mount, pid and net namespaces, PR_SET_PDEATHSIG(SIGKILL) so that
 *      it dies with us — to exec PROGRAM (node, which builds the rest of the sandbox itself);
 *   2. closes every descriptor it inherited beyond stdio (the listening socket belongs to the
 *      child: a second front-end must not queue on a socket nobody will accept on), and drops its
 *      capabilities except CAP_DAC_OVERRIDE (to unlink the socket) and sets no_new_privs — at
 *      once, or, when the child reports (launcher), as soon as its report line arrived;
 *   3. forwards SIGTERM, SIGINT, SIGHUP and SIGUSR1 to the child; a child still alive 10 s after
 *      the first SIGTERM/SIGINT gets SIGKILL (it is PID 1 of its namespace, which ignores
 *      signals it has no handler for yet, e.g. during start-up);
 *   4. when the child is gone: unlinks the socket (if it is still the one the daemon created:
 *      same device and inode) and exits with the child's status — the same exit code, or the same
 *      signal re-raised (without a core dump).
 *
 * Plain C, no allocation once the child runs, statically linked: it stays a few hundred KiB of
 * RSS while the daemon runs (the point: only one Node heap per daemon).
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GRACE_SECONDS 10

void say(const char* a, const char* b, const char* c) {
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

static void close_inherited(const int* keep, int nkeep) {
  for (int fd = 3; fd < 1024; fd++) {
    int kept = 0;
    for (int k = 0; k < nkeep; k++) kept |= keep[k] == fd;
    if (!kept) close(fd);
  }
  if (syscall(SYS_close_range, 1024U, ~0U, 0) < 0) {
    /* nothing open that high, or an old kernel: fine */
  }
}

static const char* signame(int sig) {
  const char* s = sigabbrev_np(sig);
  return s ? s : "?";
}

/* The socket to remove at the end: its directory (held open, so that renaming or replacing a
 * directory above it by a symlink later cannot redirect the unlink), its name there, and what it
 * was when we learnt of it (device and inode: a socket another daemon put at the same path
 * since is not ours). */
static struct {
  int dir;
  char name[NAME_MAX + 1];
  dev_t dev;
  ino_t ino;
} sock = {-1, "", 0, 0};

static void remember_socket(const char* path) {
  char copy[PATH_MAX];
  struct stat st;
  if (path[0] != '/' || strlen(path) >= sizeof(copy)) return;
  strcpy(copy, path);
  char* slash = strrchr(copy, '/');
  const char* name = slash + 1;
  if (strlen(name) == 0 || strlen(name) > NAME_MAX) return;
  *slash = '\0';
  int dir = open(copy[0] ? copy : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode)) {
    close(dir);
    return;
  }
  if (sock.dir >= 0) close(sock.dir);
  sock.dir = dir;
  strcpy(sock.name, name);
  sock.dev = st.st_dev;
  sock.ino = st.st_ino;
}

static void unlink_socket(void) {
  struct stat st;
  if (sock.dir >= 0 && fstatat(sock.dir, sock.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == sock.dev &&
      st.st_ino == sock.ino) {
    unlinkat(sock.dir, sock.name, 0);
  }
}

/* The child's report line: "listening\n" or "listening PATH\n" (PATH absolute; the parser
 * refuses a --socket-path with a newline, so the line is the whole path). */
static struct {
  char text[PATH_MAX + 16];
  size_t len;
} report;

/* Takes what arrived on the report pipe; returns 1 once the line is complete (or the pipe
 * ended, or the line is too long: then it is ignored). */
static int take_report(int fd) {
  ssize_t n = read(fd, report.text + report.len, sizeof(report.text) - 1 - report.len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
  if (n <= 0) return 1;
  report.len += (size_t)n;
  report.text[report.len] = '\0';
  char* nl = memchr(report.text, '\n', report.len);
  if (nl == NULL) return report.len + 1 >= sizeof(report.text);
  *nl = '\0';
  if (strncmp(report.text, "listening /", 11) == 0) remember_socket(report.text + 10);
  return 1;
}

/* The child's environment: envp without LAUNCHED_ENV, plus LAUNCHED_ENV=fd. */
static char** with_report_env(char** envp, int fd) {
  size_t n = 0;
  while (envp[n]) n++;
  char** out = calloc(n + 2, sizeof(char*));
  static char entry[64];
  if (out == NULL) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(envp[i], LAUNCHED_ENV "=", sizeof(LAUNCHED_ENV)) != 0) out[k++] = envp[i];
  }
  snprintf(entry, sizeof(entry), "%s=%d", LAUNCHED_ENV, fd);
  out[k] = entry;
  return out;
}

int supervise(const struct supervise_options* opts, int fallback_on_eperm) {
  /* CVE-2022-0358: no supplementary groups, here or (inherited) in the child. */
  if (getgroups(0, NULL) > 0 && setgroups(0, NULL) < 0 && errno != EPERM) {
    say("cannot drop supplementary groups: ", strerror(errno), NULL);
    return 1;
  }
  if (opts->unlink_path) remember_socket(opts->unlink_path);

  sigset_t watched, old;
  sigemptyset(&watched);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGHUP);
  sigaddset(&watched, SIGUSR1); /* the daemon's statistics dump; by default it would kill us */
  sigaddset(&watched, SIGCHLD);
  sigprocmask(SIG_BLOCK, &watched, &old);
  int sigfd = signalfd(-1, &watched, SFD_CLOEXEC);

  /* The child learns that we died before its PR_SET_PDEATHSIG took effect from this pipe: its
   * write end is ours alone, so the read end hangs up exactly when we are gone. */
  int alive[2];
  int rep[2] = {-1, -1};
  if (sigfd < 0 || pipe2(alive, O_CLOEXEC) < 0 || (opts->report && pipe2(rep, O_CLOEXEC) < 0)) {
    say("cannot create the supervisor's descriptors: ", strerror(errno), NULL);
    return 1;
  }
  char** envp = opts->report ? with_report_env(opts->envp, rep[1]) : opts->envp;
  if (envp == NULL) {
    say("out of memory", NULL, NULL);
    return 1;
  }

  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD), NULL, NULL, NULL, NULL);
  if (pid < 0) {
    int err = errno;
    if (err == EPERM && fallback_on_eperm) {
      close(alive[0]);
      close(alive[1]);
      if (opts->report) {
        close(rep[0]);
        close(rep[1]);
      }
      close(sigfd);
      sigprocmask(SIG_SETMASK, &old, NULL);
      return -1;
    }
    say("cannot create the sandbox (mount, pid and net namespaces): ", strerror(err),
        err == EPERM ? " (needs root or CAP_SYS_ADMIN; or use --sandbox=chroot|none)" : NULL);
    unlink_socket();
    return 1;
  }
  if (pid == 0) {
    close(alive[1]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(1);
    struct pollfd p = {alive[0], POLLIN, 0};
    if (poll(&p, 1, 0) != 0) _exit(1); /* the supervisor is already gone */
    if (opts->report && fcntl(rep[1], F_SETFD, 0) < 0) _exit(1);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvpe(opts->argv[0], opts->argv, envp);
    say("cannot run ", opts->argv[0], ": exec failed");
    _exit(127);
  }
  close(alive[0]);
  int keep[4] = {alive[1], sigfd, sock.dir, rep[0]};
  if (opts->report) {
    close(rep[1]);
    fcntl(rep[0], F_SETFL, O_NONBLOCK);
  }
  close_inherited(keep, 4);
  if (!opts->report) drop_caps();

  int status = 0;
  time_t deadline = 0;
  int forwarded = 0;
  /* A SIGTERM/SIGINT before the child reported: it is PID 1 of its namespace and has no handler
   * yet, so it would ignore the signal (and get SIGKILL only after the grace period). It has
   * served nothing: kill it now, and die of the signal we received. */
  int early = 0;
  for (;;) {
    struct pollfd fds[2] = {{sigfd, POLLIN, 0}, {rep[0], POLLIN, 0}};
    int r = poll(fds, rep[0] >= 0 ? 2 : 1, deadline ? 1000 : -1);
    if (r < 0 && errno != EINTR) {
      say("poll: ", strerror(errno), NULL);
      kill((pid_t)pid, SIGKILL);
      waitpid((pid_t)pid, &status, 0);
      break;
    }
    if (deadline && time(NULL) >= deadline) {
      say("the daemon did not exit ", "within 10 s of the signal: killing it", NULL);
      kill((pid_t)pid, SIGKILL);
      deadline = 0;
    }
    if (r <= 0) continue;
    if (rep[0] >= 0 && fds[1].revents != 0 && take_report(rep[0])) {
      /* The child listens and has set its open-file limit: take it over, then let go of
       * everything but CAP_DAC_OVERRIDE. Anything written later is never read. */
      struct rlimit lim;
      if (prlimit((pid_t)pid, RLIMIT_NOFILE, NULL, &lim) == 0) setrlimit(RLIMIT_NOFILE, &lim);
      drop_caps();
      close(rep[0]);
      rep[0] = -1;
    }
    if (!(fds[0].revents & POLLIN)) continue;
    struct signalfd_siginfo si;
    if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si)) continue;
    int sig = (int)si.ssi_signo;
    if (sig == SIGCHLD) {
      if (waitpid((pid_t)pid, &status, WNOHANG) == (pid_t)pid) break;
      continue;
    }
    if (rep[0] >= 0 && (sig == SIGTERM || sig == SIGINT)) {
      early = sig;
      kill((pid_t)pid, SIGKILL);
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

  unlink_socket();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    int sig = early && WTERMSIG(status) == SIGKILL ? early : WTERMSIG(status);
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

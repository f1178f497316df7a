// The sandbox primitives (docs/sandbox.md, docs/seccomp.md). Typed view: src/native/sandbox.ts.
//
//   sandboxDropGroups()                      → 0 | -errno   setgroups(0) in every thread (glibc)
//   sandboxClearCloexec(fd)                  → 0 | -errno   let a listening socket survive exec
//   sandboxExec(path, argv[], env[])         → -errno       execve; returns only on failure
//   sandboxEnterNamespace(sharedDir)         → {procSelfFd, taskFd}; throws (code, errno, syscall)
//   sandboxEnterChroot(sharedDir)            → {procSelfFd, taskFd}; throws
//   sandboxDropCapabilities(keepLo, keepHi, taskFd) → {threads}; throws
//   sandboxInstallSeccomp(action, learnFd)   → number of allowed calls; throws
//   sandboxSeccompAllowList()                → [{name, nr, group}]
//   sandboxCapabilityState(taskFd)           → [{tid, inh, prm, eff, bnd, amb}] (hex strings)
//
// Threads. Node has threads before any JavaScript runs (V8 platform workers, the inspector's
// SIGUSR1 watchdog, libuv's pool once used, our syscall pool). Three of the steps here must
// hold for every one of them:
//   - the root directory: pivot_root(2) moves every task of the mount namespace whose root was
//     the old root, and chroot(2) changes the fs_struct all pthreads share (CLONE_FS);
//   - seccomp: installed with SECCOMP_FILTER_FLAG_TSYNC;
//   - capabilities: capset(2) changes only the calling thread. sandboxDropCapabilities makes
//     every thread drop its own: it signals each task in /proc/self/task and the handler calls
//     capset. The signal is glibc's SIGSETXID (33), the one glibc itself broadcasts for
//     setuid(2) and setgroups(2) — the only signal no thread may block (glibc's pthread_sigmask
//     refuses to), which matters because Node's inspector watchdog thread blocks all others.
//     Our handler is installed for the duration of the broadcast only and glibc's is restored.
//     Afterwards every thread's /proc status is read back and any leftover capability is an
//     error. Threads created later inherit the reduced sets from their creator.
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <napi.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <grp.h>
#include <string>
#include <thread>
#include <vector>

#include "seccomp_allowlist.h"
#include "util.h"

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#if defined(__x86_64__)
#define VFS_AUDIT_ARCH AUDIT_ARCH_X86_64
#define VFS_ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#define VFS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define VFS_ARCH_NAME "aarch64"
#else
#error "the seccomp filter knows x86_64 and aarch64 only"
#endif

namespace vfs {

namespace {

// ---- small helpers ------------------------------------------------------------------------

[[noreturn]] void Throw(Napi::Env env, int err, const std::string& what) {
  ThrowErrno(env, err, what.c_str());
}

int OpenOrThrow(Napi::Env env, const char* path, int flags, const char* what) {
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) Throw(env, errno, what);
  return fd;
}

void MountOrThrow(Napi::Env env, const char* src, const char* target, const char* type, unsigned long flags,
                  const char* what) {
  if (mount(src, target, type, flags, nullptr) < 0) Throw(env, errno, what);
}

Napi::Object FdPair(Napi::Env env, int procSelfFd, int taskFd) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("procSelfFd", Napi::Number::New(env, procSelfFd));
  o.Set("taskFd", Napi::Number::New(env, taskFd));
  return o;
}

// ---- groups, exec -------------------------------------------------------------------------

// sandboxDropGroups() → 0 | -errno. glibc's setgroups() applies to every thread of the process.
Napi::Value DropGroups(const Napi::CallbackInfo& info) {
  int n = getgroups(0, nullptr);
  if (n < 0) return Napi::Number::New(info.Env(), -errno);
  if (n == 0) return Napi::Number::New(info.Env(), 0);
  if (setgroups(0, nullptr) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), 0);
}

// sandboxClearCloexec(fd) → 0 | -errno.
Napi::Value ClearCloexec(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), 0);
}

std::vector<std::string> StringArray(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an array of strings");
  }
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsString()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must hold strings");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

// sandboxExec(path, argv, env) → -errno (only on failure: on success this process image is gone).
Napi::Value Exec(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0);
  std::vector<std::string> args = StringArray(info, 1);
  std::vector<std::string> envs = StringArray(info, 2);
  std::vector<char*> argv, envp;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  execve(path.c_str(), argv.data(), envp.data());
  return Napi::Number::New(info.Env(), -errno);
}

// ---- namespace and chroot -----------------------------------------------------------------

// sandboxEnterNamespace(sharedDir): run in a process already cloned into new mount, pid and net
// namespaces (the supervisor did that). The sequence is the C and Rust virtiofsd's:
//   1. every mount becomes a slave of the host's: nothing we mount propagates back;
//   2. a fresh /proc for our pid namespace; keep /proc/self/task (for the capability broadcast);
//   3. /proc/self/fd bind-mounted over /proc, so that our /proc/self/fd descriptor is the root of
//      its mount and `..` cannot climb to the rest of /proc;
//   4. the share bind-mounted onto itself (a mount of its own, so it can be the new root);
//   5. pivot_root into it, the old root detached (MNT_DETACH) — nothing else stays reachable.
Napi::Value EnterNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string shared = ArgString(info, 0);
  const char* dir = shared.c_str();
  MountOrThrow(env, nullptr, "/", nullptr, MS_REC | MS_SLAVE, "mount --make-rslave /");
  MountOrThrow(env, "proc", "/proc", "proc", MS_NODEV | MS_NOEXEC | MS_NOSUID | MS_RELATIME, "mount proc /proc");
  int taskFd = OpenOrThrow(env, "/proc/self/task", O_RDONLY | O_DIRECTORY, "open /proc/self/task");
  MountOrThrow(env, "/proc/self/fd", "/proc", nullptr, MS_BIND, "mount --bind /proc/self/fd /proc");
  int procFd = OpenOrThrow(env, "/proc", O_PATH | O_DIRECTORY, "open /proc (/proc/self/fd)");
  MountOrThrow(env, dir, dir, nullptr, MS_BIND | MS_REC, "mount --bind <shared-dir>");
  int oldRoot = OpenOrThrow(env, "/", O_RDONLY | O_DIRECTORY, "open /");
  int newRoot = OpenOrThrow(env, dir, O_RDONLY | O_DIRECTORY, "open <shared-dir>");
  struct stat a, b;
  bool same = fstat(oldRoot, &a) == 0 && fstat(newRoot, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  int err = 0;
  const char* step = nullptr;
  if (fchdir(newRoot) < 0) {
    err = errno, step = "chdir <shared-dir>";
  } else if (!same) {
    // pivot_root(".", "."): the old root ends up stacked on top of the new one, where it can be
    // unmounted from "." after moving there.
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
      err = errno, step = "pivot_root";
    } else if (fchdir(oldRoot) < 0) {
      err = errno, step = "chdir old root";
    } else if (mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0) {
      err = errno, step = "mount --make-rslave old root";
    } else if (umount2(".", MNT_DETACH) < 0) {
      err = errno, step = "umount2 old root";
    } else if (fchdir(newRoot) < 0) {
      err = errno, step = "chdir new root";
    }
  }
  if (err == 0 && chdir("/") < 0) err = errno, step = "chdir /";
  close(oldRoot);
  close(newRoot);
  if (err != 0) Throw(env, err, step);
  return FdPair(env, procFd, taskFd);
}

// sandboxEnterChroot(sharedDir): chroot(2) into the share, no namespaces (virtiofsd's `chroot`).
Napi::Value EnterChroot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string shared = ArgString(info, 0);
  int procFd = OpenOrThrow(env, "/proc/self/fd", O_PATH | O_DIRECTORY, "open /proc/self/fd");
  int taskFd = OpenOrThrow(env, "/proc/self/task", O_RDONLY | O_DIRECTORY, "open /proc/self/task");
  if (chroot(shared.c_str()) < 0) Throw(env, errno, "chroot");
  if (chdir("/") < 0) Throw(env, errno, "chdir /");
  return FdPair(env, procFd, taskFd);
}

// ---- capabilities -------------------------------------------------------------------------

constexpr int kBroadcastSignal = 33;  // glibc's SIGSETXID (__SIGRTMIN + 1), see the top

// The kernel's struct sigaction for rt_sigaction(2) (x86_64 and arm64 share this layout).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

struct CapPlan {
  uint32_t keep[2] = {0, 0};
  int lastCap = 40;
  bool dropBounding = false;
};

CapPlan g_plan;
constexpr int kMaxThreads = 4096;
std::atomic<pid_t> g_handledTids[kMaxThreads];  // the threads whose handler ran
std::atomic<int> g_handled{0};
std::atomic<int> g_failures{0};
std::atomic<int> g_firstError{0};

bool Keeps(int cap) { return (g_plan.keep[cap >> 5] >> (cap & 31)) & 1U; }

// Runs in each thread (signal handler context: raw system calls only).
int ApplyCapsToThisThread() {
  if (g_plan.dropBounding) {
    for (int cap = 0; cap <= g_plan.lastCap; cap++) {
      if (Keeps(cap)) continue;
      if (syscall(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
      if (syscall(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return errno;
    }
  }
  syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);  // EINVAL before 4.3: fine
  __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  std::memset(data, 0, sizeof(data));
  if (syscall(SYS_capget, &hdr, data) < 0) return errno;
  for (int i = 0; i < 2; i++) {
    data[i].permitted &= g_plan.keep[i];
    data[i].effective = data[i].permitted;
    data[i].inheritable = 0;
  }
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  if (syscall(SYS_capset, &hdr, data) < 0) return errno;
  return 0;
}

void CapSignalHandler(int, siginfo_t* si, void*) {
  int saved = errno;
  if (si->si_code == SI_TKILL && si->si_pid == getpid()) {
    int err = ApplyCapsToThisThread();
    if (err != 0) {
      g_failures.fetch_add(1);
      int expected = 0;
      g_firstError.compare_exchange_strong(expected, err);
    }
    int slot = g_handled.fetch_add(1);
    if (slot < kMaxThreads) g_handledTids[slot].store(static_cast<pid_t>(syscall(SYS_gettid)));
  }
  errno = saved;
}

// Thread ids in /proc/self/task (read through taskFd).
bool ListTasks(int taskFd, std::vector<pid_t>& out) {
  out.clear();
  if (lseek(taskFd, 0, SEEK_SET) < 0) return false;
  alignas(8) char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, taskFd, buf, sizeof(buf));
    if (n < 0) return false;
    if (n == 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      if (d->d_name[0] >= '0' && d->d_name[0] <= '9') out.push_back(static_cast<pid_t>(atoi(d->d_name)));
      off += d->d_reclen;
    }
  }
  return true;
}

bool WaitCount(std::atomic<int>& counter, int target, int timeoutMs) {
  timespec ts = {0, 1000000};  // 1 ms
  for (int waited = 0; counter.load() < target; waited++) {
    if (waited >= timeoutMs) return false;
    nanosleep(&ts, nullptr);
  }
  return true;
}

// "CapEff:\t000001fffeffffff" → value of the named field in a /proc status text.
bool StatusField(const std::string& text, const char* key, uint64_t* value) {
  size_t at = text.find(key);
  if (at == std::string::npos) return false;
  *value = std::strtoull(text.c_str() + at + std::strlen(key), nullptr, 16);
  return true;
}

bool ReadTaskStatus(int taskFd, pid_t tid, std::string* text) {
  char path[64];
  std::snprintf(path, sizeof(path), "%d/status", static_cast<int>(tid));
  int fd = openat(taskFd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  text->clear();
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    text->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

int LastCap() {
  int last = 0;
  for (int cap = 0; cap < 64; cap++) {
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;
    last = cap;
  }
  return last;
}

// sandboxDropCapabilities(keepLo, keepHi, taskFd) → {threads}. Every thread keeps
// permitted ∩ keep as permitted and effective, nothing inheritable or ambient, and — when the
// process may change it (CAP_SETPCAP) — only `keep` in its bounding set. Throws if any thread
// still holds more afterwards.
Napi::Value DropCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  g_plan.keep[0] = ArgUint32(info, 0);
  g_plan.keep[1] = ArgUint32(info, 1);
  int taskFd = ArgInt32(info, 2);
  g_plan.lastCap = LastCap();
  g_plan.dropBounding = prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) == 1 && [] {
    __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2];
    return syscall(SYS_capget, &hdr, data) == 0 && (data[0].effective & (1U << CAP_SETPCAP)) != 0;
  }();
  g_handled = 0;
  g_failures = 0;
  g_firstError = 0;

  // Our handler with glibc's signal trampoline: install it through glibc on a spare real-time
  // signal, read the kernel's view back, and put that on the broadcast signal.
  int spare = SIGRTMAX;
  struct sigaction ours, savedSpare;
  std::memset(&ours, 0, sizeof(ours));
  ours.sa_sigaction = CapSignalHandler;
  ours.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&ours.sa_mask);
  if (sigaction(spare, &ours, &savedSpare) < 0) Throw(env, errno, "sigaction");
  KernelSigaction kOurs, kSaved;
  long r = syscall(SYS_rt_sigaction, spare, nullptr, &kOurs, sizeof(uint64_t));
  sigaction(spare, &savedSpare, nullptr);
  if (r < 0) Throw(env, errno, "rt_sigaction");
  if (syscall(SYS_rt_sigaction, kBroadcastSignal, &kOurs, &kSaved, sizeof(uint64_t)) < 0) {
    Throw(env, errno, "rt_sigaction");
  }

  std::vector<pid_t> done, tasks;
  int sent = 0;
  bool listed = true, timedOut = false;
  pid_t pid = getpid();
  for (int pass = 0; pass < 20; pass++) {
    if (!ListTasks(taskFd, tasks)) {
      listed = false;
      break;
    }
    int fresh = 0;
    for (pid_t tid : tasks) {
      if (std::find(done.begin(), done.end(), tid) != done.end()) continue;
      done.push_back(tid);
      if (syscall(SYS_tgkill, pid, tid, kBroadcastSignal) == 0) {
        sent++;
        fresh++;
      }
    }
    if (!WaitCount(g_handled, sent, 2000)) {
      // A thread that exited with the signal pending never answers: only a live one is a
      // failure.
      int handled = std::min(g_handled.load(), kMaxThreads);
      for (pid_t tid : done) {
        bool answered = false;
        for (int k = 0; k < handled && !answered; k++) answered = g_handledTids[k].load() == tid;
        if (answered) continue;
        char name[16];
        std::snprintf(name, sizeof(name), "%d", static_cast<int>(tid));
        struct stat st;
        if (fstatat(taskFd, name, &st, 0) == 0) timedOut = true;
      }
      if (timedOut) break;
      sent = g_handled.load();  // the rest are gone
    }
    if (fresh == 0) break;  // no thread appeared since the previous pass
  }
  int listErr = errno;
  syscall(SYS_rt_sigaction, kBroadcastSignal, &kSaved, nullptr, sizeof(uint64_t));
  if (!listed) Throw(env, listErr, "read /proc/self/task");
  if (timedOut) Throw(env, ETIMEDOUT, "capability broadcast (a thread did not answer)");
  if (g_failures.load() > 0) Throw(env, g_firstError.load(), "capset (in a thread)");

  // Verify every thread, from the kernel's own report.
  uint64_t keep = (static_cast<uint64_t>(g_plan.keep[1]) << 32) | g_plan.keep[0];
  if (!ListTasks(taskFd, tasks)) Throw(env, errno, "read /proc/self/task");
  std::string text;
  for (pid_t tid : tasks) {
    if (!ReadTaskStatus(taskFd, tid, &text)) continue;  // the thread has exited
    uint64_t inh = 0, prm = 0, eff = 0, bnd = 0, amb = 0;
    bool ok = StatusField(text, "CapInh:", &inh) && StatusField(text, "CapPrm:", &prm) &&
              StatusField(text, "CapEff:", &eff) && StatusField(text, "CapBnd:", &bnd);
    StatusField(text, "CapAmb:", &amb);
    if (!ok || inh != 0 || amb != 0 || (prm & ~keep) != 0 || (eff & ~keep) != 0 ||
        (g_plan.dropBounding && (bnd & ~keep) != 0)) {
      char msg[160];
      std::snprintf(msg, sizeof(msg), "capabilities left in thread %d (prm %llx eff %llx bnd %llx)", static_cast<int>(tid),
                    static_cast<unsigned long long>(prm), static_cast<unsigned long long>(eff),
                    static_cast<unsigned long long>(bnd));
      Throw(env, EPERM, msg);
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", Napi::Number::New(env, sent));
  o.Set("bounding", Napi::Boolean::New(env, g_plan.dropBounding));
  return o;
}

// sandboxCapabilityState(taskFd) → [{tid, inh, prm, eff, bnd, amb}] as hex strings (tests, logs).
Napi::Value CapabilityState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int taskFd = ArgInt32(info, 0);
  std::vector<pid_t> tasks;
  if (!ListTasks(taskFd, tasks)) Throw(env, errno, "read /proc/self/task");
  Napi::Array out = Napi::Array::New(env);
  std::string text;
  uint32_t k = 0;
  for (pid_t tid : tasks) {
    if (!ReadTaskStatus(taskFd, tid, &text)) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("tid", Napi::Number::New(env, tid));
    for (const char* key : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"}) {
      uint64_t v = 0;
      StatusField(text, key, &v);
      char hex[24];
      std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(v));
      std::string name(key + 3, 3);
      name[0] = static_cast<char>(name[0] - 'A' + 'a');
      o.Set(name, Napi::String::New(env, hex));
    }
    out.Set(k++, o);
  }
  return out;
}

// ---- seccomp ------------------------------------------------------------------------------

struct AllowedCall {
  const char* name;
  int nr;
  const char* group;
};

#define VFS_ALLOW_MEASURED(n) {#n, __NR_##n, "measured"},
#define VFS_ALLOW_PLANNED(n) {#n, __NR_##n, "planned"},
#define VFS_ALLOW_LEGACY(n) {#n, __NR_##n, "legacy"},
const AllowedCall kAllowed[] = {VFS_SECCOMP_MEASURED(VFS_ALLOW_MEASURED) VFS_SECCOMP_PLANNED(VFS_ALLOW_PLANNED)
                                    VFS_SECCOMP_LEGACY(VFS_ALLOW_LEGACY)};
#undef VFS_ALLOW_MEASURED
#undef VFS_ALLOW_PLANNED
#undef VFS_ALLOW_LEGACY

// What the learning recorder itself needs to run (its own thread's calls must never reach it).
const int kLearnBase[] = {__NR_ioctl, __NR_read, __NR_write, __NR_futex, __NR_exit, __NR_exit_group,
                          __NR_rt_sigreturn, __NR_restart_syscall};

// A tiny BPF assembler: instructions with symbolic jump targets, resolved at the end.
class Bpf {
 public:
  int Label() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<int>(code_.size()); }
  void Stmt(uint16_t code, uint32_t k) { Push(code, k, -1, -1); }
  // Conditional jump: to `t` when true, `f` when false (-1 = the next instruction).
  void Jump(uint16_t code, uint32_t k, int t, int f) { Push(code, k, t, f); }
  void Ret(uint32_t action) { Stmt(BPF_RET | BPF_K, action); }

  bool Assemble(std::vector<sock_filter>* out) const {
    out->clear();
    for (size_t i = 0; i < code_.size(); i++) {
      sock_filter f = code_[i].f;
      if (!Resolve(i, code_[i].t, &f.jt) || !Resolve(i, code_[i].f_, &f.jf)) return false;
      out->push_back(f);
    }
    return out->size() <= BPF_MAXINSNS;
  }

 private:
  struct Insn {
    sock_filter f;
    int t, f_;
  };
  void Push(uint16_t code, uint32_t k, int t, int f) { code_.push_back({{code, 0, 0, k}, t, f}); }
  bool Resolve(size_t at, int label, uint8_t* off) const {
    if (label < 0) {
      *off = 0;
      return true;
    }
    int target = labels_[label];
    long d = static_cast<long>(target) - static_cast<long>(at) - 1;
    if (target < 0 || d < 0 || d > 255) return false;
    *off = static_cast<uint8_t>(d);
    return true;
  }
  std::vector<Insn> code_;
  std::vector<int> labels_;
};

enum Special { kPlain, kClone, kClone3, kSocket };

struct Entry {
  int nr;
  Special special;
};

// Emits a balanced search over sorted entries [lo, hi); the accumulator holds the call number.
void EmitSearch(Bpf& b, const std::vector<Entry>& e, size_t lo, size_t hi, uint32_t deny) {
  if (hi - lo <= 4) {
    int allow = b.Label();
    std::vector<std::pair<int, Special>> specials;
    for (size_t i = lo; i < hi; i++) {
      if (e[i].special == kPlain) {
        b.Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(e[i].nr), allow, -1);
      } else {
        int l = b.Label();
        specials.push_back({l, e[i].special});
        b.Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(e[i].nr), l, -1);
      }
    }
    b.Ret(deny);
    b.Bind(allow);
    b.Ret(SECCOMP_RET_ALLOW);
    const uint32_t arg0 = offsetof(seccomp_data, args[0]);  // low 32 bits on little-endian
    for (auto& [label, kind] : specials) {
      b.Bind(label);
      if (kind == kClone3) {
        b.Ret(SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
        continue;
      }
      int ok = b.Label();
      b.Stmt(BPF_LD | BPF_W | BPF_ABS, arg0);
      if (kind == kClone) b.Jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, ok, -1);
      else b.Jump(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, ok, -1);
      b.Ret(deny);
      b.Bind(ok);
      b.Ret(SECCOMP_RET_ALLOW);
    }
    return;
  }
  size_t mid = lo + (hi - lo) / 2;
  int right = b.Label();
  b.Jump(BPF_JMP | BPF_JGE | BPF_K, static_cast<uint32_t>(e[mid].nr), right, -1);
  EmitSearch(b, e, lo, mid, deny);
  b.Bind(right);
  EmitSearch(b, e, mid, hi, deny);
}

bool BuildFilter(const std::vector<int>& nrs, uint32_t deny, std::vector<sock_filter>* out) {
  std::vector<Entry> e;
  for (int nr : nrs) {
    Special s = nr == __NR_clone ? kClone : nr == __NR_clone3 ? kClone3 : nr == __NR_socket ? kSocket : kPlain;
    e.push_back({nr, s});
  }
  std::sort(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.nr < b.nr; });
  e.erase(std::unique(e.begin(), e.end(), [](const Entry& a, const Entry& b) { return a.nr == b.nr; }), e.end());
  Bpf b;
  int archOk = b.Label();
  b.Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  b.Jump(BPF_JMP | BPF_JEQ | BPF_K, VFS_AUDIT_ARCH, archOk, -1);
  b.Ret(SECCOMP_RET_KILL_PROCESS);
  b.Bind(archOk);
  b.Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
#if defined(__x86_64__)
  int native = b.Label();
  b.Jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, -1, native);  // the x32 ABI: never
  b.Ret(deny);
  b.Bind(native);
#endif
  EmitSearch(b, e, 0, e.size(), deny);
  return b.Assemble(out);
}

// The learning recorder: one thread receiving SECCOMP_RET_USER_NOTIF notifications, writing
// each call number the first time it is seen ("<arch> <nr>\n") to learnFd, and letting the call
// proceed. It allocates nothing and calls only ioctl and write once running.
struct Learner {
  int ready[2] = {-1, -1};  // the thread is up (its start-up calls are over) before the filter
  int wake[2] = {-1, -1};   // the listener descriptor arrives through this pipe
  int out = -1;
  uint8_t seen[1024] = {};
};

void LearnLoop(Learner* l) {
  int fd = -1;
  char up = 1;
  if (write(l->ready[1], &up, 1) != 1) return;
  if (read(l->wake[0], &fd, sizeof(fd)) != static_cast<ssize_t>(sizeof(fd)) || fd < 0) return;
  alignas(8) seccomp_notif req;
  alignas(8) seccomp_notif_resp resp;
  for (;;) {
    std::memset(&req, 0, sizeof(req));
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
      if (errno == EINTR || errno == ENOENT) continue;
      return;
    }
    int nr = req.data.nr;
    if (nr >= 0 && nr < 1024 && !l->seen[nr]) {
      l->seen[nr] = 1;
      char line[48];
      int n = std::snprintf(line, sizeof(line), "%s %d\n", VFS_ARCH_NAME, nr);
      if (n > 0 && write(l->out, line, static_cast<size_t>(n)) < 0) {
        // nothing to do: the recording is best effort
      }
    }
    std::memset(&resp, 0, sizeof(resp));
    resp.id = req.id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
}

// SIGSYS handler for --seccomp=trap: name the call on stderr, then die of SIGSYS as without it.
// Appends the decimal digits of v to p (async-signal-safe); returns the new end.
char* AppendInt(char* p, long v) {
  char digits[24];
  int n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    digits[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (neg) *p++ = '-';
  while (n > 0) *p++ = digits[--n];
  return p;
}

char* AppendStr(char* p, const char* s) {
  while (*s != 0) *p++ = *s++;
  return p;
}

// SIGSYS handler for --seccomp=trap: name the call on stderr, then die of SIGSYS as without it.
void TrapHandler(int sig, siginfo_t* si, void*) {
  char line[160];
  char* p = AppendStr(line, "virtiofsd-ts: seccomp: system call ");
  p = AppendInt(p, si->si_syscall);
  p = AppendStr(p, " (" VFS_ARCH_NAME ") is not in the allow-list; see docs/seccomp.md\n");
  if (write(2, line, static_cast<size_t>(p - line)) < 0) {
    // stderr is gone: nothing else to report to
  }
  signal(sig, SIG_DFL);
  syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

// sandboxInstallSeccomp(action, learnFd) → allowed call count. action: "kill" | "log" | "trap".
// learnFd ≥ 0: learning mode (see Learner); the allow-list is then only kLearnBase.
Napi::Value InstallSeccomp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string action = ArgString(info, 0);
  int learnFd = ArgInt32(info, 1);
  uint32_t deny;
  if (action == "kill") deny = SECCOMP_RET_KILL_PROCESS;
  else if (action == "log") deny = SECCOMP_RET_LOG;
  else if (action == "trap") deny = SECCOMP_RET_TRAP;
  else throw Napi::TypeError::New(env, "seccomp action must be kill, log or trap");

  std::vector<int> nrs;
  if (learnFd >= 0) {
    deny = SECCOMP_RET_USER_NOTIF;
    for (int nr : kLearnBase) nrs.push_back(nr);
  } else {
    for (const AllowedCall& c : kAllowed) nrs.push_back(c.nr);
  }
  std::vector<sock_filter> code;
  if (!BuildFilter(nrs, deny, &code)) Throw(env, E2BIG, "seccomp filter (jump out of range)");
  sock_fprog prog = {static_cast<unsigned short>(code.size()), code.data()};

  if (action == "trap" && learnFd < 0) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = TrapHandler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, nullptr) < 0) Throw(env, errno, "sigaction SIGSYS");
  }
  Learner* learner = nullptr;
  if (learnFd >= 0) {
    // Started before the filter: creating it afterwards would already need the recorder.
    learner = new Learner();  // lives as long as the process
    learner->out = learnFd;
    if (pipe2(learner->wake, O_CLOEXEC) < 0 || pipe2(learner->ready, O_CLOEXEC) < 0) Throw(env, errno, "pipe2");
    std::thread(LearnLoop, learner).detach();
    char up = 0;
    if (read(learner->ready[0], &up, 1) != 1) Throw(env, errno, "read");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) Throw(env, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  // TSYNC: every thread gets the filter, or none does. With a listener, TSYNC_ESRCH (5.7+) lets
  // both flags be combined (a sync failure is then -ESRCH instead of a thread id).
  unsigned long flags = SECCOMP_FILTER_FLAG_TSYNC;
  if (learner != nullptr) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0) Throw(env, errno, "seccomp(SECCOMP_SET_MODE_FILTER)");
  if (learner != nullptr) {
    int fd = static_cast<int>(r);
    if (write(learner->wake[1], &fd, sizeof(fd)) != static_cast<ssize_t>(sizeof(fd))) Throw(env, errno, "write");
  } else if (r > 0) {
    char msg[80];
    std::snprintf(msg, sizeof(msg), "seccomp TSYNC: thread %ld could not be synchronised", r);
    Throw(env, EBUSY, msg);
  }
  return Napi::Number::New(env, static_cast<double>(nrs.size()));
}

// sandboxSeccompAllowList() → [{name, nr, group}].
Napi::Value SeccompAllowList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (const AllowedCall& c : kAllowed) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, c.name));
    o.Set("nr", Napi::Number::New(env, c.nr));
    o.Set("group", Napi::String::New(env, c.group));
    out.Set(k++, o);
  }
  return out;
}

}  // namespace

void InitSandbox(Napi::Env env, Napi::Object exports) {
  exports.Set("sandboxDropGroups", Napi::Function::New(env, DropGroups, "sandboxDropGroups"));
  exports.Set("sandboxClearCloexec", Napi::Function::New(env, ClearCloexec, "sandboxClearCloexec"));
  exports.Set("sandboxExec", Napi::Function::New(env, Exec, "sandboxExec"));
  exports.Set("sandboxEnterNamespace", Napi::Function::New(env, EnterNamespace, "sandboxEnterNamespace"));
  exports.Set("sandboxEnterChroot", Napi::Function::New(env, EnterChroot, "sandboxEnterChroot"));
  exports.Set("sandboxDropCapabilities", Napi::Function::New(env, DropCapabilities, "sandboxDropCapabilities"));
  exports.Set("sandboxCapabilityState", Napi::Function::New(env, CapabilityState, "sandboxCapabilityState"));
  exports.Set("sandboxInstallSeccomp", Napi::Function::New(env, InstallSeccomp, "sandboxInstallSeccomp"));
  exports.Set("sandboxSeccompAllowList", Napi::Function::New(env, SeccompAllowList, "sandboxSeccompAllowList"));
  exports.Set("sandboxArch", Napi::String::New(env, VFS_ARCH_NAME));
}

}  // namespace vfs

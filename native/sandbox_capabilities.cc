// Capabilities for the sandbox (docs/sandbox.md): every thread drops its own. Typed view:
// src/native/sandbox.ts.
//   sandboxDropCapabilities(keepLo, keepHi, taskFd) → {threads}; throws
//   sandboxCapabilityState(taskFd)           → [{tid, inh, prm, eff, bnd, amb}] (hex strings)
//
// capset(2) changes only the calling thread, and Node has threads before any JavaScript runs.
// sandboxDropCapabilities makes every thread drop its own: it signals each task in
// /proc/self/task and the handler calls capset. The signal is glibc's SIGSETXID (33), the one
// glibc itself broadcasts for setuid(2) and setgroups(2) — the only signal no thread may block
// (glibc's pthread_sigmask refuses to), which matters because Node's inspector watchdog thread
// blocks all others. Our handler is installed for the duration of the broadcast only and glibc's
// is restored. Afterwards every thread's /proc status is read back and any leftover capability is
// an error. Threads created later inherit the reduced sets from their creator.
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sandbox.h"

namespace vfs {

namespace {

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

// Waits until `counter` reaches `target`. The handlers run within microseconds of the signal, so
// the wait polls every 20 µs: with the 1 ms it once slept, this step alone cost a millisecond of
// every start (bench/startup.mjs).
bool WaitCount(std::atomic<int>& counter, int target, int timeoutMs) {
  timespec now, deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeoutMs / 1000;
  deadline.tv_nsec += static_cast<long>(timeoutMs % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  const timespec poll = {0, 20000};
  while (counter.load() < target) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) return false;
    nanosleep(&poll, nullptr);
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
  if (sigaction(spare, &ours, &savedSpare) < 0) SandboxThrow(env, errno, "sigaction");
  KernelSigaction kOurs, kSaved;
  long r = syscall(SYS_rt_sigaction, spare, nullptr, &kOurs, sizeof(uint64_t));
  sigaction(spare, &savedSpare, nullptr);
  if (r < 0) SandboxThrow(env, errno, "rt_sigaction");
  if (syscall(SYS_rt_sigaction, kBroadcastSignal, &kOurs, &kSaved, sizeof(uint64_t)) < 0) {
    SandboxThrow(env, errno, "rt_sigaction");
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
  if (!listed) SandboxThrow(env, listErr, "read /proc/self/task");
  if (timedOut) SandboxThrow(env, ETIMEDOUT, "capability broadcast (a thread did not answer)");
  if (g_failures.load() > 0) SandboxThrow(env, g_firstError.load(), "capset (in a thread)");

  // Verify every thread, from the kernel's own report.
  uint64_t keep = (static_cast<uint64_t>(g_plan.keep[1]) << 32) | g_plan.keep[0];
  if (!ListTasks(taskFd, tasks)) SandboxThrow(env, errno, "read /proc/self/task");
  std::string text;
  for (pid_t tid : tasks) {
    if (!ReadTaskStatus(taskFd, tid, &text)) continue;  // the thread has exited
    uint64_t inh = 0, prm = 0, eff = 0, bnd = 0, amb = 0;
    bool ok = StatusField(text, "CapInh:", &inh) && StatusField(text, "CapPrm:", &prm) && StatusField(text, "CapEff:", &eff) &&
              StatusField(text, "CapBnd:", &bnd);
    StatusField(text, "CapAmb:", &amb);
    if (!ok || inh != 0 || amb != 0 || (prm & ~keep) != 0 || (eff & ~keep) != 0 || (g_plan.dropBounding && (bnd & ~keep) != 0)) {
      char msg[160];
      std::snprintf(msg, sizeof(msg), "capabilities left in thread %d (prm %llx eff %llx bnd %llx)", static_cast<int>(tid),
                    static_cast<unsigned long long>(prm), static_cast<unsigned long long>(eff), static_cast<unsigned long long>(bnd));
      SandboxThrow(env, EPERM, msg);
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
  if (!ListTasks(taskFd, tasks)) SandboxThrow(env, errno, "read /proc/self/task");
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

}  // namespace

void InitSandboxCapabilities(Napi::Env env, Napi::Object exports) {
  exports.Set("sandboxDropCapabilities", Napi::Function::New(env, DropCapabilities, "sandboxDropCapabilities"));
  exports.Set("sandboxCapabilityState", Napi::Function::New(env, CapabilityState, "sandboxCapabilityState"));
}

}  // namespace vfs

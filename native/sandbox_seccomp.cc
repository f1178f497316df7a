// Seccomp for the sandbox (docs/seccomp.md): one filter for every thread (TSYNC), built from
// the allow-list in seccomp_allowlist.h by a tiny BPF assembler, and a learning recorder that
// logs the calls a run makes. Typed view: src/native/sandbox.ts.
//   sandboxInstallSeccomp(action, learnFd)   → number of allowed calls; throws
//   sandboxSeccompAllowList()                → [{name, nr, group}]
//   sandboxArch                              → "x86_64" | "aarch64"
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sandbox.h"
#include "seccomp_allowlist.h"

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
const int kLearnBase[] = {__NR_ioctl, __NR_read,       __NR_write,        __NR_futex,
                          __NR_exit,  __NR_exit_group, __NR_rt_sigreturn, __NR_restart_syscall};

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
  if (!BuildFilter(nrs, deny, &code)) SandboxThrow(env, E2BIG, "seccomp filter (jump out of range)");
  sock_fprog prog = {static_cast<unsigned short>(code.size()), code.data()};

  if (action == "trap" && learnFd < 0) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = TrapHandler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, nullptr) < 0) SandboxThrow(env, errno, "sigaction SIGSYS");
  }
  Learner* learner = nullptr;
  if (learnFd >= 0) {
    // Started before the filter: creating it afterwards would already need the recorder.
    learner = new Learner();  // lives as long as the process
    learner->out = learnFd;
    if (pipe2(learner->wake, O_CLOEXEC) < 0 || pipe2(learner->ready, O_CLOEXEC) < 0) SandboxThrow(env, errno, "pipe2");
    std::thread(LearnLoop, learner).detach();
    char up = 0;
    if (read(learner->ready[0], &up, 1) != 1) SandboxThrow(env, errno, "read");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) SandboxThrow(env, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  // TSYNC: every thread gets the filter, or none does. With a listener, TSYNC_ESRCH (5.7+) lets
  // both flags be combined (a sync failure is then -ESRCH instead of a thread id).
  unsigned long flags = SECCOMP_FILTER_FLAG_TSYNC;
  if (learner != nullptr) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0) SandboxThrow(env, errno, "seccomp(SECCOMP_SET_MODE_FILTER)");
  if (learner != nullptr) {
    int fd = static_cast<int>(r);
    if (write(learner->wake[1], &fd, sizeof(fd)) != static_cast<ssize_t>(sizeof(fd))) SandboxThrow(env, errno, "write");
  } else if (r > 0) {
    char msg[80];
    std::snprintf(msg, sizeof(msg), "seccomp TSYNC: thread %ld could not be synchronised", r);
    SandboxThrow(env, EBUSY, msg);
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

void InitSandboxSeccomp(Napi::Env env, Napi::Object exports) {
  exports.Set("sandboxInstallSeccomp", Napi::Function::New(env, InstallSeccomp, "sandboxInstallSeccomp"));
  exports.Set("sandboxSeccompAllowList", Napi::Function::New(env, SeccompAllowList, "sandboxSeccompAllowList"));
  exports.Set("sandboxArch", Napi::String::New(env, VFS_ARCH_NAME));
}

}  // namespace vfs

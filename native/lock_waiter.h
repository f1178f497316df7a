// Blocking lock waits (FUSE_SETLKW as F_OFD_SETLKW, and flock without LOCK_NB), each on a
// dedicated thread so that a guest waiting for a lock never occupies the event loop or one of
// the --thread-pool-size workers (a full pool of waiters could otherwise keep out the very
// request that would release the lock). The result comes back through a ThreadSafeFunction.
//
// Interrupting a wait (FUSE_INTERRUPT): sys_lock_cancel(id) sets the waiter's `cancelled` flag
// and sends it kCancelSignal with pthread_kill. The handler does nothing, but it is installed
// without SA_RESTART, so the blocked fcntl()/flock() returns EINTR; the thread sees the flag and
// completes with -EINTR. A signal that lands between the flag check and the system call is
// lost, so callers repeat sys_lock_cancel() until the wait has completed (a few ms apart).
//
// At most kMaxWaiters waits run at once; beyond that sys_lock_wait answers -ENOLCK at once.
#pragma once

#include <fcntl.h>
#include <napi.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "util.h"

namespace vfs {
namespace lockwait {

constexpr int kMaxWaiters = 256;
constexpr int kKindOfd = 0;
constexpr int kKindFlock = 1;

inline int CancelSignal() { return SIGRTMIN + 4; }

struct Waiter {
  int fd = -1;
  int kind = kKindOfd;
  int arg = 0;  // OFD: l_type; flock: LOCK_SH / LOCK_EX
  int64_t start = 0;
  int64_t len = 0;
  pthread_t thread{};
  bool started = false;  // `thread` is valid (guarded by Registry::mu)
  std::atomic<bool> cancelled{false};
  Napi::ThreadSafeFunction tsfn;
};

struct Registry {
  std::mutex mu;
  std::unordered_map<uint32_t, std::shared_ptr<Waiter>> waiters;
  uint32_t nextId = 1;
  std::atomic<int> count{0};
};

inline Registry& Reg() {
  static Registry* r = new Registry();  // never destroyed: detached threads may outlive exit
  return *r;
}

inline void OnCancelSignal(int) {}

// A Number or BigInt argument as int64 (lock offsets reach OFFSET_MAX).
inline int64_t ArgOffset64(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = false;
    int64_t v = info[i].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " does not fit int64");
    return v;
  }
  return ArgInt64(info, i);
}

inline void InstallHandlerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnCancelSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the blocked call must return EINTR
    sigaction(CancelSignal(), &sa, nullptr);
  });
}

inline int64_t WaitOnce(const Waiter& w) {
  if (w.kind == kKindFlock) return flock(w.fd, w.arg) == 0 ? 0 : -static_cast<int64_t>(errno);
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = static_cast<short>(w.arg);
  fl.l_whence = SEEK_SET;
  fl.l_start = w.start;
  fl.l_len = w.len;
  return fcntl(w.fd, F_OFD_SETLKW, &fl) == 0 ? 0 : -static_cast<int64_t>(errno);
}

inline void Run(uint32_t id, std::shared_ptr<Waiter> w) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, CancelSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  int64_t result;
  for (;;) {
    if (w->cancelled.load()) {
      result = -EINTR;
      break;
    }
    result = WaitOnce(*w);
    if (result != -EINTR) break;  // EINTR without cancel (a stray signal): wait again
  }
  {
    std::lock_guard<std::mutex> lock(Reg().mu);
    Reg().waiters.erase(id);  // no pthread_kill can reach this thread after this point
  }
  Reg().count--;
  auto* r = new int64_t(result);
  napi_status st = w->tsfn.BlockingCall(r, [](Napi::Env env, Napi::Function cb, int64_t* value) {
    int64_t v = *value;
    delete value;
    if (env == nullptr || cb.IsEmpty()) return;
    try {
      cb.Call({Napi::Number::New(env, static_cast<double>(v))});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  });
  if (st != napi_ok) delete r;
  w->tsfn.Release();
}

// sys_lock_wait(fd, kind, arg, start, len, cb) → id (> 0), or -errno at once. kind 0: OFD lock
// of type `arg` (F_RDLCK / F_WRLCK) on [start, start + len) (len 0 = to EOF); kind 1: flock(fd,
// arg). cb(result) runs later on the JS thread: 0, -EINTR after sys_lock_cancel, or -errno.
// The caller keeps `fd` open until cb has run.
inline Napi::Value SysLockWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0);
  int kind = ArgInt32(info, 1);
  int arg = ArgInt32(info, 2);
  int64_t start = ArgOffset64(info, 3);
  int64_t len = ArgOffset64(info, 4);
  if (info.Length() < 6 || !info[5].IsFunction()) throw Napi::TypeError::New(env, "argument 5 must be a function");
  if (kind != kKindOfd && kind != kKindFlock) return Napi::Number::New(env, -EINVAL);
  if (Reg().count.fetch_add(1) >= kMaxWaiters) {
    Reg().count--;
    return Napi::Number::New(env, -ENOLCK);
  }
  InstallHandlerOnce();
  auto w = std::make_shared<Waiter>();
  w->fd = fd;
  w->kind = kind;
  w->arg = arg;
  w->start = start;
  w->len = len;
  w->tsfn = Napi::ThreadSafeFunction::New(env, info[5].As<Napi::Function>(), "lockWait", 0, 1);
  uint32_t id;
  {
    std::lock_guard<std::mutex> lock(Reg().mu);
    do {
      id = Reg().nextId++;
    } while (id == 0 || Reg().waiters.count(id) != 0);
    Reg().waiters[id] = w;
  }
  try {
    std::thread t(Run, id, w);
    {
      std::lock_guard<std::mutex> lock(Reg().mu);
      w->thread = t.native_handle();
      w->started = true;
    }
    t.detach();
  } catch (const std::system_error& e) {
    {
      std::lock_guard<std::mutex> lock(Reg().mu);
      Reg().waiters.erase(id);
    }
    Reg().count--;
    w->tsfn.Release();
    return Napi::Number::New(env, -EAGAIN);
  }
  return Napi::Number::New(env, id);
}

// sys_lock_cancel(id) → 0 when the wait was signalled, -ESRCH when it is over (or unknown).
inline Napi::Value SysLockCancel(const Napi::CallbackInfo& info) {
  uint32_t id = ArgUint32(info, 0);
  std::lock_guard<std::mutex> lock(Reg().mu);
  auto it = Reg().waiters.find(id);
  if (it == Reg().waiters.end()) return Napi::Number::New(info.Env(), -ESRCH);
  it->second->cancelled.store(true);
  if (it->second->started) pthread_kill(it->second->thread, CancelSignal());
  return Napi::Number::New(info.Env(), 0);
}

// sys_lock_waiters() → waits in progress (tests, metrics).
inline Napi::Value SysLockWaiters(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Reg().count.load()); }

}  // namespace lockwait
}  // namespace vfs

// The sandbox primitives (docs/sandbox.md, docs/seccomp.md). Typed view: src/native/sandbox.ts.
// This file: groups, exec, and entering the namespace or chroot; capabilities and seccomp live in
// sandbox_capabilities.cc and sandbox_seccomp.cc (see sandbox.h).
//   sandboxDropGroups()                      → 0 | -errno   setgroups(0) in every thread (glibc)
//   sandboxClearCloexec(fd)                  → 0 | -errno   let a listening socket survive exec
//   sandboxExec(path, argv[], env[])         → -errno       execve; returns only on failure
//   sandboxEnterNamespace(sharedDir)         → {procSelfFd, taskFd}; throws (code, errno, syscall)
//   sandboxEnterChroot(sharedDir)            → {procSelfFd, taskFd}; throws
//
// Threads. Node has threads before any JavaScript runs (V8 platform workers, the inspector's
// SIGUSR1 watchdog, libuv's pool once used, our syscall pool). The root directory must change
// for every one of them: pivot_root(2) moves every task of the mount namespace whose root was
// the old root, and chroot(2) changes the fs_struct all pthreads share (CLONE_FS). (Seccomp and
// capabilities have the same concern: see their files.)
#include "sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <napi.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace vfs {

namespace {

// ---- small helpers ------------------------------------------------------------------------

int OpenOrThrow(Napi::Env env, const char* path, int flags, const char* what) {
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) SandboxThrow(env, errno, what);
  return fd;
}

void MountOrThrow(Napi::Env env, const char* src, const char* target, const char* type, unsigned long flags, const char* what) {
  if (mount(src, target, type, flags, nullptr) < 0) SandboxThrow(env, errno, what);
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
  if (err != 0) SandboxThrow(env, err, step);
  return FdPair(env, procFd, taskFd);
}

// sandboxEnterChroot(sharedDir): chroot(2) into the share, no namespaces (virtiofsd's `chroot`).
Napi::Value EnterChroot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string shared = ArgString(info, 0);
  int procFd = OpenOrThrow(env, "/proc/self/fd", O_PATH | O_DIRECTORY, "open /proc/self/fd");
  int taskFd = OpenOrThrow(env, "/proc/self/task", O_RDONLY | O_DIRECTORY, "open /proc/self/task");
  if (chroot(shared.c_str()) < 0) SandboxThrow(env, errno, "chroot");
  if (chdir("/") < 0) SandboxThrow(env, errno, "chdir /");
  return FdPair(env, procFd, taskFd);
}

}  // namespace

void InitSandbox(Napi::Env env, Napi::Object exports) {
  exports.Set("sandboxDropGroups", Napi::Function::New(env, DropGroups, "sandboxDropGroups"));
  exports.Set("sandboxClearCloexec", Napi::Function::New(env, ClearCloexec, "sandboxClearCloexec"));
  exports.Set("sandboxExec", Napi::Function::New(env, Exec, "sandboxExec"));
  exports.Set("sandboxEnterNamespace", Napi::Function::New(env, EnterNamespace, "sandboxEnterNamespace"));
  exports.Set("sandboxEnterChroot", Napi::Function::New(env, EnterChroot, "sandboxEnterChroot"));
  InitSandboxCapabilities(env, exports);
  InitSandboxSeccomp(env, exports);
}

}  // namespace vfs

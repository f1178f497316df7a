// Entry point of the native addon: registers each part's functions on one exports object.
// The full list of entry points, with types, is src/native/binding.ts and src/native/syscalls.ts.
#include <napi.h>

#include <cstring>

#include "util.h"
#include "worker_pool.h"

namespace vfs {
void InitFdWatch(Napi::Env env, Napi::Object exports);
void InitUnixSocket(Napi::Env env, Napi::Object exports);
void InitGuestMemory(Napi::Env env, Napi::Object exports);
void InitQueueBinding(Napi::Env env, Napi::Object exports);
void InitFuseFastPath(Napi::Env env, Napi::Object exports);
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitSharedMemory(Napi::Env env, Napi::Object exports);
void InitDevFuse(Napi::Env env, Napi::Object exports);
void InitSandbox(Napi::Env env, Napi::Object exports);
void InitMemoryTrim(Napi::Env env, Napi::Object exports);
void InitDirentEncode(Napi::Env env, Napi::Object exports);

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  std::string msg = std::string(syscall) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("syscall", Napi::String::New(env, syscall));
  throw e;
}
}  // namespace vfs

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vfs::InitWorkerPool(env, exports);
  vfs::InitFdWatch(env, exports);
  vfs::InitUnixSocket(env, exports);
  vfs::InitGuestMemory(env, exports);
  vfs::InitQueueBinding(env, exports);
  vfs::InitFuseFastPath(env, exports);
  vfs::InitSyscalls(env, exports);
  vfs::InitProcess(env, exports);
  vfs::InitSharedMemory(env, exports);
  vfs::InitDevFuse(env, exports);
  vfs::InitSandbox(env, exports);
  vfs::InitMemoryTrim(env, exports);
  vfs::InitDirentEncode(env, exports);
  return exports;
}

NODE_API_MODULE(vfsnative, Init)

// Memory the userspace frontend owns and shares with a back-end: a memfd, mapped into our
// address space and exposed to JS as a Buffer. This is the frontend's "guest RAM" (rings,
// request and reply buffers) and, for DAX, its cache window. It never holds untrusted
// mappings: the daemon side uses GuestMemory, which keeps guest memory out of JS.
#include <napi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "util.h"

namespace vfs {

namespace {

// memfdCreate(name, size) → fd (throws). The fd is close-on-exec and sized with ftruncate.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0);
  int64_t size = ArgInt64(info, 1);
  if (size <= 0) throw Napi::RangeError::New(env, "size must be positive");
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "memfd_create");
  if (ftruncate(fd, size) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "ftruncate");
  }
  return Napi::Number::New(env, fd);
}

// mapShared(fd, size, offset) → Buffer over a MAP_SHARED mapping; unmapped when the Buffer is
// garbage collected. size must stay below Node's Buffer limit (4 GiB on Node 20).
Napi::Value MapShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgInt32(info, 0);
  int64_t size = ArgInt64(info, 1);
  int64_t offset = ArgInt64(info, 2);
  if (size <= 0 || size > (int64_t{1} << 32) - 1 || offset < 0) throw Napi::RangeError::New(env, "bad mapping size");
  void* addr = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  if (addr == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  size_t len = static_cast<size_t>(size);
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(addr), len, [len](Napi::Env, uint8_t* p) { munmap(p, len); });
}

}  // namespace

void InitSharedMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("mapShared", Napi::Function::New(env, MapShared, "mapShared"));
}

}  // namespace vfs

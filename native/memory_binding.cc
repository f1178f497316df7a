#include "memory_binding.h"

#include <cstring>
#include <vector>

#include "util.h"

namespace vfs {

namespace {
uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = true;
    uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " exceeds u64");
    return v;
  }
  int64_t v = ArgInt64(info, i);
  if (v < 0) throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " is negative");
  return static_cast<uint64_t>(v);
}
}  // namespace

Napi::Function GuestMemoryWrap::Define(Napi::Env env) {
  return DefineClass(
      env, "GuestMemory",
      {InstanceMethod("addRegion", &GuestMemoryWrap::AddRegion), InstanceMethod("removeRegion", &GuestMemoryWrap::RemoveRegion),
       InstanceMethod("clear", &GuestMemoryWrap::Clear), InstanceMethod("regions", &GuestMemoryWrap::Regions),
       InstanceMethod("read", &GuestMemoryWrap::Read), InstanceMethod("write", &GuestMemoryWrap::Write)});
}

GuestMemoryWrap::GuestMemoryWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GuestMemoryWrap>(info) {}

// addRegion(fd, gpa, size, uva, mmapOffset) → 0 | -errno. Addresses are bigint or number.
Napi::Value GuestMemoryWrap::AddRegion(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  int r = state_.AddRegion(fd, ArgU64(info, 1), ArgU64(info, 2), ArgU64(info, 3), ArgU64(info, 4));
  return Napi::Number::New(info.Env(), r);
}

// removeRegion(gpa, size) → 0 | -ENOENT
Napi::Value GuestMemoryWrap::RemoveRegion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), state_.RemoveRegion(ArgU64(info, 0), ArgU64(info, 1)));
}

Napi::Value GuestMemoryWrap::Clear(const Napi::CallbackInfo& info) {
  state_.Clear();
  return info.Env().Undefined();
}

// regions() → [{gpa, size, uva}] (bigints), for logging and tests.
Napi::Value GuestMemoryWrap::Regions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemoryTablePtr t = state_.table();
  Napi::Array out = Napi::Array::New(env, t->regions.size());
  for (size_t i = 0; i < t->regions.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("gpa", Napi::BigInt::New(env, t->regions[i].gpa));
    o.Set("size", Napi::BigInt::New(env, t->regions[i].size));
    o.Set("uva", Napi::BigInt::New(env, t->regions[i].uva));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// read(gpa, dst) / write(gpa, src): copy between guest memory and a Buffer. Returns false if
// any byte is outside guest memory. Control path only (tests, the frontend's setup).
Napi::Value GuestMemoryWrap::Read(const Napi::CallbackInfo& info) {
  uint64_t gpa = ArgU64(info, 0);
  Napi::Uint8Array dst = ArgBytes(info, 1);
  std::vector<iovec> iov;
  if (!state_.table()->TranslateGpa(gpa, dst.ByteLength(), &iov)) return Napi::Boolean::New(info.Env(), false);
  uint8_t* p = dst.Data();
  for (const iovec& v : iov) {
    std::memcpy(p, v.iov_base, v.iov_len);
    p += v.iov_len;
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Value GuestMemoryWrap::Write(const Napi::CallbackInfo& info) {
  uint64_t gpa = ArgU64(info, 0);
  Napi::Uint8Array src = ArgBytes(info, 1);
  std::vector<iovec> iov;
  if (!state_.table()->TranslateGpa(gpa, src.ByteLength(), &iov)) return Napi::Boolean::New(info.Env(), false);
  const uint8_t* p = src.Data();
  for (const iovec& v : iov) {
    std::memcpy(v.iov_base, p, v.iov_len);
    p += v.iov_len;
  }
  return Napi::Boolean::New(info.Env(), true);
}

void InitGuestMemory(Napi::Env env, Napi::Object exports) { exports.Set("GuestMemory", GuestMemoryWrap::Define(env)); }

}  // namespace vfs

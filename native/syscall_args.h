// Argument helpers and the job wrapper shared by the syscall exports (syscalls.cc and the
// headers it includes). Conventions are those of syscalls.cc: names are Buffers copied into
// NUL-terminated strings on the JS thread, output Buffers are pinned until the job completes,
// results are Numbers (>= 0, or -errno).
#pragma once

#include <napi.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "guest_creds.h"
#include "util.h"
#include "worker_pool.h"

namespace vfs {
namespace sysargs {

struct NameArg {
  std::string path;
  bool null = false;  // `null`/`undefined` given where allowed
  int err = 0;        // non-zero: the call fails with -err without running
};

// A name/path Buffer copied into a NUL-terminated string (or null, when allowNull).
inline NameArg ArgName(const Napi::CallbackInfo& info, size_t i, bool allowNull) {
  NameArg n;
  if (allowNull && (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined())) {
    n.null = true;
    return n;
  }
  Napi::Uint8Array b = ArgBytes(info, i);
  size_t len = b.ByteLength();
  const char* p = reinterpret_cast<const char*>(b.Data());
  if (len >= PATH_MAX) {
    n.err = ENAMETOOLONG;
  } else if (len > 0 && std::memchr(p, 0, len) != nullptr) {
    n.err = EINVAL;
  } else if (len > 0) {
    n.path.assign(p, len);
  }
  return n;
}

// An output/input Buffer kept alive until the job is destroyed (always on the JS thread).
struct Pin {
  Napi::Reference<Napi::Uint8Array> ref;
  uint8_t* data = nullptr;
  size_t size = 0;
  bool null = false;
};

inline Pin ArgPin(const Napi::CallbackInfo& info, size_t i, size_t minSize) {
  Napi::Uint8Array b = ArgBytes(info, i);
  if (b.ByteLength() < minSize) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " must be at least " + std::to_string(minSize) + " bytes");
  }
  Pin p;
  p.data = b.Data();
  p.size = b.ByteLength();
  p.ref = Napi::Persistent(b);
  return p;
}

// A pinned Buffer, or null/undefined (p.null set, no data).
inline Pin ArgPinOrNull(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) {
    Pin p;
    p.null = true;
    return p;
  }
  return ArgPin(info, i, 0);
}

// A file offset given as a Number or a BigInt. Sets *err to EINVAL when it does not fit int64.
inline int64_t ArgOffset(const Napi::CallbackInfo& info, size_t i, int* err) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = false;
    int64_t v = info[i].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) *err = EINVAL;
    return v;
  }
  return ArgInt64(info, i);
}

// A Number argument that may be omitted (undefined/null): `dflt` then.
inline int64_t ArgOptInt64(const Napi::CallbackInfo& info, size_t i, int64_t dflt) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return dflt;
  return ArgInt64(info, i);
}

// The guest identity of a creating call: uid at i, gid at i + 1 (-1, -1 = keep the daemon's),
// then optionally a supplementary gid at i + 2 (-1 or omitted = none).
inline GuestCreds ArgGuestCreds(const Napi::CallbackInfo& info, size_t i) {
  int64_t uid = ArgInt64(info, i);
  int64_t gid = ArgInt64(info, i + 1);
  int64_t supp = ArgOptInt64(info, i + 2, -1);
  auto bad = [](int64_t v) { return v > 0xfffffffeLL || v < -1; };
  if (bad(uid) || bad(gid) || bad(supp)) {
    throw Napi::RangeError::New(info.Env(), "uid/gid must be -1 or a valid id");
  }
  GuestCreds c;
  if (uid >= 0 || gid >= 0) {
    c.set = true;
    c.uid = uid >= 0 ? static_cast<uint32_t>(uid) : 0;
    c.gid = gid >= 0 ? static_cast<uint32_t>(gid) : 0;
    if (supp >= 0) {
      c.hasSupp = true;
      c.supp = static_cast<uint32_t>(supp);
    }
  }
  return c;
}

inline int64_t Ret(long r) { return r < 0 ? -static_cast<int64_t>(errno) : static_cast<int64_t>(r); }

// A job running one callable on a pool thread (or inline) under the guest credentials `gc`.
// `preset` != 0 makes it fail with -preset without running (an argument that is well-typed but
// unusable, e.g. a NUL in a name).
template <typename F>
class FnJob final : public Job {
 public:
  FnJob(F f, int preset, GuestCreds gc) : f_(std::move(f)), result_(-static_cast<int64_t>(preset)), preset_(preset != 0), gc_(gc) {}
  void Execute() override {
    if (preset_) return;
    ScopedGuestCreds creds(gc_);
    result_ = creds.failed() ? -static_cast<int64_t>(creds.failed()) : f_();
  }
  Napi::Value Complete(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(result_)); }

 private:
  F f_;
  int64_t result_;
  bool preset_;
  GuestCreds gc_;
};

template <typename F>
Napi::Value Submit(const Napi::CallbackInfo& info, size_t cbIndex, int preset, GuestCreds gc, F f) {
  auto job = std::make_unique<FnJob<F>>(std::move(f), preset, gc);
  Napi::Value cb = cbIndex < info.Length() ? info[cbIndex] : info.Env().Undefined();
  return SubmitJob(info.Env(), std::move(job), cb);
}

inline int FirstErr(int a, int b = 0, int c = 0) { return a ? a : (b ? b : c); }

}  // namespace sysargs
}  // namespace vfs

// Small helpers shared by every native source file: argument checks and errno errors.
// The TypeScript side validates arguments before calling in; these checks exist so that a
// programming error on the JS side becomes a TypeError, never undefined behaviour.
#pragma once

#include <napi.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace vfs {

// Throws an Error whose `code` is the errno name (e.g. "ENOENT"), `errno` the positive number
// and `syscall` the failing call, like Node's own system errors, so callers can branch on it.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

// Errno name ("ENOENT") for a positive errno value; "E<number>" when unknown.
const char* ErrnoName(int err);

inline int64_t ArgInt64(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().Int64Value();
}

inline int32_t ArgInt32(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().Int32Value();
}

inline uint32_t ArgUint32(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().Uint32Value();
}

inline std::string ArgString(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsString()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

// A Buffer (or any Uint8Array) argument; the caller keeps it alive for the duration of the call.
inline Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Buffer");
  }
  return info[i].As<Napi::Uint8Array>();
}

// Checks that [off, off+len) lies inside a buffer of `size` bytes without overflow.
inline bool RangeInside(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

}  // namespace vfs

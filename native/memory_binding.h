// JS handle on one device's guest memory table (GuestMemory class exported to TS).
#pragma once

#include <napi.h>

#include "guest_memory.h"

namespace vfs {

class GuestMemoryWrap : public Napi::ObjectWrap<GuestMemoryWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit GuestMemoryWrap(const Napi::CallbackInfo& info);
  GuestMemoryState& state() { return state_; }

 private:
  Napi::Value AddRegion(const Napi::CallbackInfo& info);
  Napi::Value RemoveRegion(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Regions(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);

  GuestMemoryState state_;
};

}  // namespace vfs

// The sandbox primitives, split by concept: sandbox.cc (groups, exec, namespace and chroot),
// sandbox_capabilities.cc (dropping capabilities in every thread), sandbox_seccomp.cc (the
// filter and its learning recorder). Each file registers its own exports.
#pragma once

#include <napi.h>

#include <string>

#include "util.h"

namespace vfs {

[[noreturn]] inline void SandboxThrow(Napi::Env env, int err, const std::string& what) { ThrowErrno(env, err, what.c_str()); }

void InitSandboxCapabilities(Napi::Env env, Napi::Object exports);
void InitSandboxSeccomp(Napi::Env env, Napi::Object exports);

}  // namespace vfs

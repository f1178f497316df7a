// The daemon's own syscall threads (--thread-pool-size). Blocking file-system calls run here
// instead of libuv's shared pool, which Node's fs also uses: a slow guest request must not
// starve the event loop or other requests. With zero threads every job runs inline on the JS
// thread, which is the fastest mode for fast local file systems.
//
// Completions are handed back to the JS thread in batches through one uv_async_t, so a burst of
// finished jobs costs one loop wake-up, not one per job.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

namespace vfs {

// One blocking call. A job carries no credentials: a call made for the guest switches to the
// guest's identity itself, inside Execute() (FnJob in syscall_args.h with ScopedGuestCreds from
// guest_creds.h, which also replaces the supplementary groups, as CVE-2022-0358 requires).
class Job {
 public:
  virtual ~Job() = default;
  // Runs on a pool thread (or inline). Must not touch any JS value.
  virtual void Execute() = 0;
  // Runs on the JS thread after Execute(); its value is returned (inline) or passed to the
  // callback (pooled). Convention for syscalls: a Number, >= 0 on success, -errno on failure.
  virtual Napi::Value Complete(Napi::Env env) = 0;
};

// Runs `job`. When `callback` is a function and the pool has threads, the job is queued and
// undefined is returned; the callback later receives Complete()'s value. Otherwise the job
// runs inline and Complete()'s value is returned.
Napi::Value SubmitJob(Napi::Env env, std::unique_ptr<Job> job, Napi::Value callback);

// Threads in the pool (0: every job runs inline).
size_t PoolSize();

void InitWorkerPool(Napi::Env env, Napi::Object exports);

}  // namespace vfs

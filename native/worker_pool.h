// The daemon's own syscall threads (--thread-pool-size). Blocking file-system calls run here
// instead of libuv's shared pool, which Node's fs also uses: a slow guest request must not
// starve the event loop or other requests. With zero threads every job runs inline on the JS
// thread, which is the fastest mode for fast local file systems.
//
// Completions are handed back to the JS thread in batches through one uv_async_t, so a burst of
// finished jobs costs one loop wake-up, not one per job.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

namespace vfs {

// File-system credentials a job runs with. New files created by the guest must be owned by the
// requesting guest uid/gid, so the syscall that creates them runs with fsuid/fsgid switched, in
// the very thread that makes it (fsuid/fsgid are per-thread on Linux).
struct Credentials {
  bool set = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

class Job {
 public:
  virtual ~Job() = default;
  // Runs on a pool thread (or inline). Must not touch any JS value.
  virtual void Execute() = 0;
  // Runs on the JS thread after Execute(); its value is returned (inline) or passed to the
  // callback (pooled). Convention for syscalls: a Number, >= 0 on success, -errno on failure.
  virtual Napi::Value Complete(Napi::Env env) = 0;

  Credentials creds;
  // Set when the credentials could not be switched: Execute() was skipped and the job
  // completes with -credential_error, never running as the wrong user.
  int credential_error = 0;

  // Runs the job with its credentials (in the calling thread).
  void Run();
  // Complete(), or -credential_error if the job never ran.
  Napi::Value Finish(Napi::Env env);
};

// Runs `job`. When `callback` is a function and the pool has threads, the job is queued and
// undefined is returned; the callback later receives Complete()'s value. Otherwise the job
// runs inline and Complete()'s value is returned.
Napi::Value SubmitJob(Napi::Env env, std::unique_ptr<Job> job, Napi::Value callback);

// Threads in the pool (0: every job runs inline).
size_t PoolSize();

// Switches this thread's fsuid/fsgid for one job and restores the previous ids afterwards.
// setfsuid(2) reports no errors, so the switch is verified by reading the ids back.
class ScopedCredentials {
 public:
  explicit ScopedCredentials(const Credentials& c);
  ~ScopedCredentials();
  ScopedCredentials(const ScopedCredentials&) = delete;
  ScopedCredentials& operator=(const ScopedCredentials&) = delete;
  bool ok() const { return ok_; }

 private:
  bool active_;
  bool ok_ = true;
  uint32_t saved_uid_ = 0;
  uint32_t saved_gid_ = 0;
};

void InitWorkerPool(Napi::Env env, Napi::Object exports);

}  // namespace vfs

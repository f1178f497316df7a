#include "worker_pool.h"

#include <uv.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "util.h"

namespace vfs {

namespace {

struct PendingJob {
  std::unique_ptr<Job> job;
  Napi::FunctionReference callback;
};

// One pool per process (the addon is loaded once; worker_threads are not supported).
class WorkerPool {
 public:
  static WorkerPool& Get() {
    static WorkerPool* pool = new WorkerPool();  // never destroyed: threads may outlive exit
    return *pool;
  }

  void Attach(Napi::Env env) {
    if (async_initialised_) return;
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    uv_async_init(loop, &async_, &WorkerPool::OnAsync);
    async_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    env_ = env;
    async_initialised_ = true;
  }

  size_t size() const { return threads_.size(); }

  void Resize(size_t n) {
    // Growing is cheap; shrinking is only supported down to zero at start-up time.
    while (threads_.size() < n) threads_.emplace_back([this] { Run(); });
  }

  void Submit(PendingJob* pj) {
    if (++in_flight_ == 1) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(pj);
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      PendingJob* pj;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        pj = queue_.front();
        queue_.pop_front();
      }
      pj->job->Execute();
      {
        std::lock_guard<std::mutex> lock(done_mu_);
        done_.push_back(pj);
      }
      uv_async_send(&async_);
    }
  }

  static void OnAsync(uv_async_t* handle) {
    auto* self = static_cast<WorkerPool*>(handle->data);
    std::vector<PendingJob*> batch;
    {
      std::lock_guard<std::mutex> lock(self->done_mu_);
      batch.swap(self->done_);
    }
    Napi::Env env = self->env_;
    Napi::HandleScope scope(env);
    for (PendingJob* pj : batch) {
      std::unique_ptr<PendingJob> owned(pj);
      if (--self->in_flight_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&self->async_));
      try {
        Napi::Value result = pj->job->Complete(env);
        pj->callback.MakeCallback(env.Global(), {result});
      } catch (const Napi::Error& e) {
        // An exception thrown by a JS callback: surface it like any uncaught exception.
        napi_fatal_exception(env, e.Value());
      }
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingJob*> queue_;
  std::mutex done_mu_;
  std::vector<PendingJob*> done_;
  uv_async_t async_{};
  bool async_initialised_ = false;
  size_t in_flight_ = 0;  // touched on the JS thread only
  Napi::Env env_{nullptr};
};

Napi::Value SetPoolSize(const Napi::CallbackInfo& info) {
  int64_t n = ArgInt64(info, 0);
  if (n < 0 || n > 1024) throw Napi::RangeError::New(info.Env(), "pool size must be 0..1024");
  WorkerPool& pool = WorkerPool::Get();
  if (static_cast<size_t>(n) < pool.size()) {
    throw Napi::RangeError::New(info.Env(), "the worker pool cannot shrink");
  }
  pool.Attach(info.Env());
  pool.Resize(static_cast<size_t>(n));
  return info.Env().Undefined();
}

Napi::Value GetPoolSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(WorkerPool::Get().size()));
}

}  // namespace

Napi::Value SubmitJob(Napi::Env env, std::unique_ptr<Job> job, Napi::Value callback) {
  WorkerPool& pool = WorkerPool::Get();
  if (pool.size() == 0 || !callback.IsFunction()) {
    job->Execute();
    return job->Complete(env);
  }
  auto* pj = new PendingJob{std::move(job), Napi::Persistent(callback.As<Napi::Function>())};
  pool.Submit(pj);
  return env.Undefined();
}

size_t PoolSize() { return WorkerPool::Get().size(); }

void InitWorkerPool(Napi::Env env, Napi::Object exports) {
  exports.Set("setPoolSize", Napi::Function::New(env, SetPoolSize, "setPoolSize"));
  exports.Set("getPoolSize", Napi::Function::New(env, GetPoolSize, "getPoolSize"));
}

}  // namespace vfs

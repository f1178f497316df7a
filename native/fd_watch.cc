// Watching raw file descriptors inside Node's event loop (uv_poll), plus eventfd helpers.
// Kick eventfds and the vhost-user socket are plain fds that Node's net module cannot adopt
// (SCM_RIGHTS, eventfd semantics), so we poll them ourselves on the JS thread.
#include <fcntl.h>
#include <napi.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>

#include "util.h"

namespace vfs {

namespace {

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "FdWatcher",
        {InstanceMethod("close", &FdWatcher::Close), InstanceMethod("ref", &FdWatcher::Ref), InstanceMethod("unref", &FdWatcher::Unref)});
  }

  // new FdWatcher(fd, callback): calls callback() each time fd becomes readable (or errors:
  // the callback then finds out by reading). The fd stays owned by the caller.
  explicit FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    int fd = ArgInt32(info, 0);
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "FdWatcher(fd, callback)");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, fd);
    if (r != 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowErrno(env, -r, "uv_poll_init");
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE | UV_DISCONNECT, &FdWatcher::OnEvent);
    self_ = Napi::Persistent(info.This().As<Napi::Object>());  // alive while watching
    env_ = env;
  }

  ~FdWatcher() override { StopPolling(); }

 private:
  static void OnEvent(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdWatcher*>(handle->data);
    if (self == nullptr) return;
    Napi::HandleScope scope(self->env_);
    try {
      self->callback_.MakeCallback(self->env_.Global(), {Napi::Number::New(self->env_, status)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(self->env_, e.Value());
    }
  }

  void StopPolling() {
    if (poll_ == nullptr) return;
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPolling();
    if (!self_.IsEmpty()) self_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::ObjectReference self_;
  Napi::Env env_{nullptr};
};

// eventfdCreate(nonblocking) → fd (throws on failure)
Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int flags = EFD_CLOEXEC | (info.Length() > 0 && info[0].ToBoolean() ? EFD_NONBLOCK : 0);
  int fd = eventfd(0, flags);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

// eventfdRead(fd) → counter value (> 0), 0 if nothing pending (EAGAIN), or -errno
Napi::Value EventfdRead(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  uint64_t v = 0;
  ssize_t n;
  do {
    n = read(fd, &v, sizeof v);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Napi::Number::New(info.Env(), errno == EAGAIN ? 0 : -errno);
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

// eventfdWrite(fd) → 0 | -errno: adds one to the counter (a kick or call).
Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(fd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : 0);
}

// fdAccessMode(fd) → O_RDONLY (0) | O_WRONLY (1) | O_RDWR (2), or -errno: whether an open
// file may back a writable DAX mapping.
Napi::Value FdAccessMode(const Napi::CallbackInfo& info) {
  int flags = fcntl(ArgInt32(info, 0), F_GETFL);
  return Napi::Number::New(info.Env(), flags < 0 ? -errno : (flags & O_ACCMODE));
}

// closeFd(fd) → 0 | -errno
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgInt32(info, 0);
  return Napi::Number::New(info.Env(), close(fd) < 0 ? -errno : 0);
}

}  // namespace

void InitFdWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcher::Define(env));
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate, "eventfdCreate"));
  exports.Set("eventfdRead", Napi::Function::New(env, EventfdRead, "eventfdRead"));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite, "eventfdWrite"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("fdAccessMode", Napi::Function::New(env, FdAccessMode, "fdAccessMode"));
}

}  // namespace vfs

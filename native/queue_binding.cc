// The VirtQueue class exported to TS: one split virtqueue of one device, with the batch pop,
// completion and data-I/O entry points the virtqueue transport uses.
//
// Hot-path shape: pop() delivers a whole batch in one call, describing each chain in a
// caller-owned Uint32Array and copying each request's first bytes into a caller-owned staging
// arena (slot = head × slotSize). JS never holds pointers into guest memory, so a memory table
// change can never leave JS with a dangling view; the copies are a few hundred bytes.
#include <napi.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fuse_fast_path.h"
#include "iovec_io.h"
#include "memory_binding.h"
#include "util.h"
#include "virtqueue.h"
#include "worker_pool.h"

namespace vfs {

namespace {

// preadv/pwritev between a file and guest memory. Holds the memory table so the regions stay
// mapped even if the frontend replaces the table while the job runs on a pool thread.
class ChainIoJob : public Job {
 public:
  ChainIoJob(std::vector<iovec> iov, MemoryTablePtr mem, int fd, int64_t offset, bool write)
      : iov_(std::move(iov)), mem_(std::move(mem)), fd_(fd), offset_(offset), write_(write) {}

  void Execute() override { result_ = TransferAll(&iov_, fd_, offset_, write_); }

  Napi::Value Complete(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(result_)); }

 private:
  std::vector<iovec> iov_;
  MemoryTablePtr mem_;
  int fd_;
  int64_t offset_;
  bool write_;
  int64_t result_ = 0;
};

int64_t ArgOffset(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless = true;
    int64_t v = info[i].As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), "file offset out of range");
    return v;
  }
  return ArgInt64(info, i);
}

// Set in pop()'s head word when a chain has foreign segments (heads are < 2^15).
constexpr uint32_t kForeignFlag = 1u << 16;

class VirtQueueWrap : public Napi::ObjectWrap<VirtQueueWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VirtQueue",
                       {InstanceMethod("start", &VirtQueueWrap::Start),
                        InstanceMethod("stop", &VirtQueueWrap::Stop),
                        InstanceMethod("remap", &VirtQueueWrap::Remap),
                        InstanceMethod("setCallFd", &VirtQueueWrap::SetCallFd),
                        InstanceMethod("pop", &VirtQueueWrap::Pop),
                        InstanceMethod("enableNotification", &VirtQueueWrap::EnableNotification),
                        InstanceMethod("complete", &VirtQueueWrap::Complete),
                        InstanceMethod("flush", &VirtQueueWrap::Flush),
                        InstanceMethod("readInput", &VirtQueueWrap::ReadInput),
                        InstanceMethod("preadInto", &VirtQueueWrap::PreadInto),
                        InstanceMethod("pwriteFrom", &VirtQueueWrap::PwriteFrom),
                        InstanceMethod("foreign", &VirtQueueWrap::Foreign),
                        InstanceMethod("setAllowForeign", &VirtQueueWrap::SetAllowForeign),
                        InstanceMethod("inFlight", &VirtQueueWrap::InFlightCount),
                        InstanceMethod("broken", &VirtQueueWrap::Broken),
                        InstanceMethod("counters", &VirtQueueWrap::Counters),
                        InstanceMethod("setFastPath", &VirtQueueWrap::SetFastPath),
                        InstanceMethod("watchKick", &VirtQueueWrap::WatchKick),
                        InstanceMethod("unwatchKick", &VirtQueueWrap::UnwatchKick),
                        InstanceMethod("drainKick", &VirtQueueWrap::DrainKick)});
  }

  explicit VirtQueueWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VirtQueueWrap>(info) {
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(info.Env(), "VirtQueue(memory: GuestMemory)");
    }
    memory_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    memory_ = GuestMemoryWrap::Unwrap(info[0].As<Napi::Object>());
  }

  ~VirtQueueWrap() override { StopKickPoll(); }

 private:
  // start(size, descUva, availUva, usedUva, eventIdx, lastAvailIdx) → '' | reason
  Napi::Value Start(const Napi::CallbackInfo& info) {
    QueueSetup s;
    s.size = ArgUint32(info, 0);
    s.desc_uva = static_cast<uint64_t>(ArgOffset(info, 1));
    s.avail_uva = static_cast<uint64_t>(ArgOffset(info, 2));
    s.used_uva = static_cast<uint64_t>(ArgOffset(info, 3));
    s.event_idx = info[4].ToBoolean();
    s.last_avail_idx = static_cast<uint16_t>(ArgUint32(info, 5));
    return Napi::String::New(info.Env(), q_.Start(s, memory_->state().table()));
  }

  // stop() → last avail index (what GET_VRING_BASE reports)
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    uint16_t last = q_.last_avail_idx();
    q_.Stop();
    return Napi::Number::New(info.Env(), last);
  }

  // remap() → '' | reason: picks up the current memory table after the frontend changed it.
  Napi::Value Remap(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), q_.Remap(memory_->state().table())); }

  Napi::Value SetCallFd(const Napi::CallbackInfo& info) {
    call_fd_ = ArgInt32(info, 0);
    return info.Env().Undefined();
  }

  // pop(infos: Uint32Array, max, arena: Buffer, slotSize) → count. For chain i:
  // infos[4i] = head (| kForeignFlag when it has foreign segments: see foreign()),
  // [4i+1] = readable bytes, [4i+2] = writable bytes (foreign ones included), [4i+3] = staged bytes
  // (copied to arena[head × slotSize ...]). Malformed chains are returned to the guest empty
  // and not reported; call flush() after a pop loop either way.
  Napi::Value Pop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(env, "pop(infos: Uint32Array, max, arena, slotSize)");
    }
    Napi::Uint32Array infos = info[0].As<Napi::Uint32Array>();
    uint32_t max = std::min<uint32_t>(ArgUint32(info, 1), static_cast<uint32_t>(infos.ElementLength() / 4));
    Napi::Uint8Array arena = ArgBytes(info, 2);
    uint32_t slot = ArgUint32(info, 3);
    if (slot == 0 || static_cast<uint64_t>(slot) * q_.size() > arena.ByteLength()) {
      throw Napi::RangeError::New(env, "staging arena too small for the queue");
    }
    return Napi::Number::New(env, PopBatch(infos.Data(), max, arena.Data(), slot));
  }

  // Pops chains until `max` are described for JS or the ring is empty. Requests the fast path
  // answers (if one is set) are completed here and never described.
  uint32_t PopBatch(uint32_t* infos, uint32_t max, uint8_t* arena, uint32_t slot) {
    uint32_t count = 0;
    // Large fast-path reads may use the worker pool, reporting back through fast_path_done_.
    bool pool_ready = fast_path_ != nullptr && !fast_path_done_.IsEmpty() && PoolSize() > 0;
    FastPathPool pool{env_, pool_ready ? Value() : Napi::Object(), pool_ready ? fast_path_ref_.Value() : Napi::Object(),
                      pool_ready ? fast_path_done_.Value() : Napi::Function()};
    while (count < max) {
      uint16_t head;
      PopResult r = q_.Pop(&head);
      if (r == PopResult::kEmpty || r == PopResult::kBroken) break;
      if (r == PopResult::kMalformed) continue;
      Chain* c = q_.InFlight(head);
      if (c->readable_len > UINT32_MAX || c->writable_len > UINT32_MAX) {
        q_.AddUsed(head, 0);
        q_.counters.malformed++;
        q_.counters.last_error = "chain longer than 4 GiB";
        continue;
      }
      // Chains with foreign segments (FS_IO) always go to JavaScript.
      bool foreign = !c->foreign_readable.empty() || !c->foreign_writable.empty();
      if (!foreign && fast_path_ != nullptr && fast_path_->TryServe(&q_, head, pool_ready ? &pool : nullptr)) {
        if (q_.InterruptDue()) Publish();  // as complete() does
        continue;
      }
      size_t staged = GatherCopy(c->readable, 0, arena + static_cast<size_t>(head) * slot, std::min<uint64_t>(slot, c->readable_len));
      uint32_t* out = infos + 4 * count;
      out[0] = head | (foreign ? kForeignFlag : 0);
      out[1] = static_cast<uint32_t>(c->readable_len);
      out[2] = static_cast<uint32_t>(c->writable_len);
      out[3] = static_cast<uint32_t>(staged);
      count++;
    }
    return count;
  }

  // setFastPath(fastPath | null, onPooledDone?): READs/WRITEs on handles it knows are answered in
  // the pop; with a worker pool, large ones complete later and then call onPooledDone() (the
  // caller publishes the used ring and wakes GET_VRING_BASE waiters).
  Napi::Value SetFastPath(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    env_ = env;
    if (!fast_path_done_.IsEmpty()) fast_path_done_.Reset();
    if (info.Length() > 0 && info[0].IsObject()) {
      FuseFastPath* fp = UnwrapFuseFastPath(env, info[0].As<Napi::Object>());
      if (fp == nullptr) throw Napi::TypeError::New(env, "setFastPath(fastPath: FuseFastPath | null, onPooledDone?)");
      fast_path_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
      fast_path_ = fp;
      if (info.Length() > 1 && info[1].IsFunction()) fast_path_done_ = Napi::Persistent(info[1].As<Napi::Function>());
    } else {
      fast_path_ = nullptr;
      if (!fast_path_ref_.IsEmpty()) fast_path_ref_.Reset();
    }
    return env.Undefined();
  }

  // ---------------------------------------------------------------------------------------
  // Kick handling without JS. A kick wakes this uv_poll; the eventfd is read, chains are
  // popped (fast-path READs/WRITEs answered on the way), and JS is called only with those it
  // must serve: callback(n) with n chains described in `infos`, callback(0) once the ring is
  // broken, callback(-errno) if the kick eventfd cannot be read. The used ring is published
  // (and the guest signalled) before returning to the event loop.

  // watchKick(kickFd, infos: Uint32Array, arena: Buffer, slotSize, max, callback)
  Napi::Value WatchKick(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = ArgInt32(info, 0);
    if (info.Length() < 6 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        !info[5].IsFunction()) {
      throw Napi::TypeError::New(env, "watchKick(fd, infos: Uint32Array, arena, slotSize, max, callback)");
    }
    Napi::Uint32Array infos = info[1].As<Napi::Uint32Array>();
    Napi::Uint8Array arena = ArgBytes(info, 2);
    uint32_t slot = ArgUint32(info, 3);
    uint32_t max = std::min<uint32_t>(ArgUint32(info, 4), static_cast<uint32_t>(infos.ElementLength() / 4));
    if (slot == 0 || static_cast<uint64_t>(slot) * q_.size() > arena.ByteLength() || max == 0) {
      throw Napi::RangeError::New(env, "staging arena too small for the queue");
    }
    StopKickPoll();
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto* poll = new uv_poll_t;
    int r = uv_poll_init(loop, poll, fd);
    if (r != 0) {
      delete poll;
      ThrowErrno(env, -r, "uv_poll_init");
    }
    poll->data = this;
    kick_poll_ = poll;
    kick_fd_ = fd;
    kick_infos_ref_ = Napi::Persistent(static_cast<Napi::Object>(infos));
    kick_arena_ref_ = Napi::Persistent(static_cast<Napi::Object>(arena));
    kick_callback_ = Napi::Persistent(info[5].As<Napi::Function>());
    kick_infos_ = infos.Data();
    kick_arena_ = arena.Data();
    kick_slot_ = slot;
    kick_max_ = max;
    env_ = env;
    if (self_ref_.IsEmpty()) self_ref_ = Napi::Persistent(info.This().As<Napi::Object>());  // alive while watching
    uv_poll_start(poll, UV_READABLE, &VirtQueueWrap::OnKick);
    return env.Undefined();
  }

  Napi::Value UnwatchKick(const Napi::CallbackInfo& info) {
    StopKickPoll();
    return info.Env().Undefined();
  }

  // drainKick(): what a kick does, without reading the eventfd (requests queued while nobody
  // watched). The callback runs synchronously from inside this call.
  Napi::Value DrainKick(const Napi::CallbackInfo& info) {
    if (kick_poll_ != nullptr) DrainLoop(false);
    return info.Env().Undefined();
  }

  static void OnKick(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<VirtQueueWrap*>(handle->data);
    if (self == nullptr) return;
    Napi::HandleScope scope(self->env_);
    try {
      self->DrainLoop(true, true);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(self->env_, e.Value());
    }
  }

  // Reads (clears) the kick eventfd; false after reporting an error to JS.
  bool ConsumeKick(bool from_loop) {
    uint64_t v;
    ssize_t n;
    do {
      n = read(kick_fd_, &v, sizeof v);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) {
      Deliver(-errno, from_loop);
      return false;
    }
    return true;
  }

  // Pops until the ring is empty with notifications re-armed (drain → enable → re-check), as
  // long as someone watches; JS may stop watching from inside its callback. After a kick the
  // eventfd is read only once the ring looked empty, before the re-check: the first reply is
  // not delayed by it, and a kick after the read wakes us again while entries made available
  // before it are seen by the re-check.
  void DrainLoop(bool from_loop, bool kick_pending = false) {
    while (kick_poll_ != nullptr) {
      uint32_t n = PopBatch(kick_infos_, kick_max_, kick_arena_, kick_slot_);
      if (n > 0) {
        Deliver(static_cast<int32_t>(n), from_loop);
        continue;
      }
      if (q_.broken()) {
        Deliver(0, from_loop);
        break;
      }
      if (kick_pending) {
        kick_pending = false;
        if (!ConsumeKick(from_loop)) break;
        continue;  // look once more before re-arming
      }
      if (!q_.EnableNotification()) break;
    }
    // Fast-path replies and malformed chains returned during pop; JS replies published too.
    Publish();
  }

  void Deliver(int32_t n, bool from_loop) {
    Napi::Value arg = Napi::Number::New(env_, n);
    if (from_loop) {
      kick_callback_.MakeCallback(env_.Global(), {arg});
    } else {
      kick_callback_.Call({arg});
    }
  }

  void StopKickPoll() {
    if (kick_poll_ == nullptr) return;
    uv_poll_stop(kick_poll_);
    kick_poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(kick_poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    kick_poll_ = nullptr;
    kick_infos_ = nullptr;
    kick_arena_ = nullptr;
    // The buffers and callback stay referenced until replaced or this queue is collected: a
    // DrainLoop on the stack may still be inside the callback.
    if (!self_ref_.IsEmpty()) self_ref_.Reset();
  }

  Napi::Value EnableNotification(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), q_.EnableNotification()); }

  // complete(head, buf, off, len, total) → bool. Copies buf[off, off+len) to the start of the
  // chain's writable bytes and returns the chain with `total` bytes used.
  Napi::Value Complete(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t head = ArgUint32(info, 0);
    Napi::Uint8Array buf = ArgBytes(info, 1);
    uint32_t off = ArgUint32(info, 2);
    uint32_t len = ArgUint32(info, 3);
    uint32_t total = ArgUint32(info, 4);
    // Never throw here: a chain left in flight would hang the guest. Clamp instead.
    if (!RangeInside(off, len, buf.ByteLength())) len = off <= buf.ByteLength() ? static_cast<uint32_t>(buf.ByteLength() - off) : 0;
    if (head > UINT16_MAX) return Napi::Boolean::New(env, false);
    Chain* c = q_.InFlight(static_cast<uint16_t>(head));
    if (c == nullptr) return Napi::Boolean::New(env, false);
    size_t copied = ScatterCopy(c->writable, 0, buf.Data() + off, len);
    uint32_t used = std::max<uint32_t>(static_cast<uint32_t>(copied), std::min<uint32_t>(total, static_cast<uint32_t>(c->writable_len)));
    bool ok = q_.AddUsed(static_cast<uint16_t>(head), used);
    // The guest waits for this many completions (EVENT_IDX): let it have them now, so it
    // refills the ring while we serve the rest. Costs the interrupt a batch publish would send.
    if (ok && q_.InterruptDue()) Publish();
    return Napi::Boolean::New(env, ok);
  }

  // flush() → bool: publishes used entries; interrupts the guest through the call eventfd if
  // the guest asked for it.
  Napi::Value Flush(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Publish()); }

  bool Publish() {
    bool notify = q_.PublishUsed();
    if (notify && call_fd_ >= 0) {
      uint64_t one = 1;
      ssize_t n;
      do {
        n = write(call_fd_, &one, sizeof one);
      } while (n < 0 && errno == EINTR);
    }
    return notify;
  }

  // readInput(head, from, dst, dstOff, len) → bytes copied (-1 if the chain is not in flight)
  Napi::Value ReadInput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t head = ArgUint32(info, 0);
    int64_t from = ArgInt64(info, 1);
    Napi::Uint8Array dst = ArgBytes(info, 2);
    uint32_t dst_off = ArgUint32(info, 3);
    uint32_t len = ArgUint32(info, 4);
    if (from < 0 || !RangeInside(dst_off, len, dst.ByteLength())) throw Napi::RangeError::New(env, "readInput range");
    Chain* c = head <= UINT16_MAX ? q_.InFlight(static_cast<uint16_t>(head)) : nullptr;
    if (c == nullptr) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, static_cast<double>(GatherCopy(c->readable, static_cast<uint64_t>(from), dst.Data() + dst_off, len)));
  }

  // preadInto(head, fd, replyOff, len, fileOffset: bigint, cb?) → bytes | -errno (or via cb)
  Napi::Value PreadInto(const Napi::CallbackInfo& info) { return ChainIo(info, false); }
  // pwriteFrom(head, fd, from, len, fileOffset: bigint, cb?) → bytes | -errno (or via cb)
  Napi::Value PwriteFrom(const Napi::CallbackInfo& info) { return ChainIo(info, true); }

  Napi::Value ChainIo(const Napi::CallbackInfo& info, bool write) {
    Napi::Env env = info.Env();
    uint32_t head = ArgUint32(info, 0);
    int fd = ArgInt32(info, 1);
    int64_t from = ArgInt64(info, 2);
    int64_t len = ArgInt64(info, 3);
    int64_t offset = ArgOffset(info, 4);
    Napi::Value cb = info.Length() > 5 ? info[5] : env.Undefined();
    if (from < 0 || len < 0 || offset < 0) {
      return SubmitJob(env, std::make_unique<ErrnoJob>(EINVAL), cb);
    }
    Chain* c = head <= UINT16_MAX ? q_.InFlight(static_cast<uint16_t>(head)) : nullptr;
    if (c == nullptr) return SubmitJob(env, std::make_unique<ErrnoJob>(ESTALE), cb);
    // Only the translated prefix is ours to touch; the caller sends the rest through FS_IO.
    const std::vector<ForeignSegment>& foreign = write ? c->foreign_readable : c->foreign_writable;
    if (!foreign.empty() && static_cast<uint64_t>(from) + static_cast<uint64_t>(len) > foreign.front().offset) {
      return SubmitJob(env, std::make_unique<ErrnoJob>(EFAULT), cb);
    }
    std::vector<iovec> iov;
    SliceInto(write ? c->readable : c->writable, static_cast<uint64_t>(from), static_cast<uint64_t>(len), &iov);
    return SubmitJob(env, std::make_unique<ChainIoJob>(std::move(iov), c->memory, fd, offset, write), cb);
  }

  // foreign(head) → Float64Array of [direction (0 readable, 1 writable), offset, gpa, len] × n,
  // or undefined when the chain is not in flight. Addresses are exact (< 2^53, checked at pop).
  Napi::Value Foreign(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t head = ArgUint32(info, 0);
    Chain* c = head <= UINT16_MAX ? q_.InFlight(static_cast<uint16_t>(head)) : nullptr;
    if (c == nullptr) return env.Undefined();
    size_t n = c->foreign_readable.size() + c->foreign_writable.size();
    Napi::Float64Array out = Napi::Float64Array::New(env, 4 * n);
    size_t i = 0;
    for (int dir = 0; dir < 2; dir++) {
      for (const ForeignSegment& f : dir == 0 ? c->foreign_readable : c->foreign_writable) {
        out[i++] = dir;
        out[i++] = static_cast<double>(f.offset);
        out[i++] = static_cast<double>(f.gpa);
        out[i++] = static_cast<double>(f.len);
      }
    }
    return out;
  }

  // setAllowForeign(bool): accept descriptors outside the memory table as foreign segments.
  Napi::Value SetAllowForeign(const Napi::CallbackInfo& info) {
    q_.set_allow_foreign(info.Length() > 0 && info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }

  // inFlight() → chains popped and not yet completed (GET_VRING_BASE waits for 0).
  Napi::Value InFlightCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), q_.in_flight()); }

  // broken() → true once the guest corrupted the ring (nothing is popped until restart).
  Napi::Value Broken(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), q_.broken()); }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("popped", Napi::Number::New(env, static_cast<double>(q_.counters.popped)));
    o.Set("completed", Napi::Number::New(env, static_cast<double>(q_.counters.completed)));
    o.Set("notifications", Napi::Number::New(env, static_cast<double>(q_.counters.notifications)));
    o.Set("malformed", Napi::Number::New(env, static_cast<double>(q_.counters.malformed)));
    o.Set("lastError", Napi::String::New(env, q_.counters.last_error));
    o.Set("lastAvailIdx", Napi::Number::New(env, q_.last_avail_idx()));
    o.Set("broken", Napi::Boolean::New(env, q_.broken()));
    o.Set("inFlight", Napi::Number::New(env, q_.in_flight()));
    return o;
  }

  // A job that only reports an errno, so argument errors reach a pooled caller's callback.
  class ErrnoJob : public Job {
   public:
    explicit ErrnoJob(int err) : err_(err) {}
    void Execute() override {}
    Napi::Value Complete(Napi::Env env) override { return Napi::Number::New(env, -err_); }

   private:
    int err_;
  };

  SplitQueue q_;
  FuseFastPath* fast_path_ = nullptr;
  Napi::ObjectReference fast_path_ref_;
  Napi::FunctionReference fast_path_done_;
  uv_poll_t* kick_poll_ = nullptr;
  int kick_fd_ = -1;
  uint32_t* kick_infos_ = nullptr;
  uint8_t* kick_arena_ = nullptr;
  uint32_t kick_slot_ = 0;
  uint32_t kick_max_ = 0;
  Napi::ObjectReference kick_infos_ref_;
  Napi::ObjectReference kick_arena_ref_;
  Napi::FunctionReference kick_callback_;
  Napi::ObjectReference self_ref_;
  Napi::Env env_{nullptr};
  GuestMemoryWrap* memory_;
  Napi::ObjectReference memory_ref_;  // keeps the GuestMemory object alive
  int call_fd_ = -1;
};

}  // namespace

void InitQueueBinding(Napi::Env env, Napi::Object exports) { exports.Set("VirtQueue", VirtQueueWrap::Define(env)); }

}  // namespace vfs

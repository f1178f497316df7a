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

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "memory_binding.h"
#include "util.h"
#include "virtqueue.h"
#include "worker_pool.h"

namespace vfs {

namespace {

// Copies [from, from+len) of the byte stream described by `iov` into `dst`. Returns bytes copied.
size_t GatherCopy(const std::vector<iovec>& iov, uint64_t from, uint8_t* dst, size_t len) {
  size_t done = 0;
  for (const iovec& v : iov) {
    if (done == len) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    size_t n = std::min(len - done, static_cast<size_t>(v.iov_len - from));
    std::memcpy(dst + done, static_cast<uint8_t*>(v.iov_base) + from, n);
    done += n;
    from = 0;
  }
  return done;
}

size_t ScatterCopy(const std::vector<iovec>& iov, uint64_t from, const uint8_t* src, size_t len) {
  size_t done = 0;
  for (const iovec& v : iov) {
    if (done == len) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    size_t n = std::min(len - done, static_cast<size_t>(v.iov_len - from));
    std::memcpy(static_cast<uint8_t*>(v.iov_base) + from, src + done, n);
    done += n;
    from = 0;
  }
  return done;
}

// The sub-list of `iov` covering [from, from+len), clipped to what exists.
std::vector<iovec> Slice(const std::vector<iovec>& iov, uint64_t from, uint64_t len) {
  std::vector<iovec> out;
  for (const iovec& v : iov) {
    if (len == 0) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, v.iov_len - from));
    out.push_back(iovec{static_cast<uint8_t*>(v.iov_base) + from, n});
    len -= n;
    from = 0;
  }
  return out;
}

// preadv/pwritev between a file and guest memory. Holds the memory table so the regions stay
// mapped even if the frontend replaces the table while the job runs on a pool thread.
class ChainIoJob : public Job {
 public:
  ChainIoJob(std::vector<iovec> iov, MemoryTablePtr mem, int fd, int64_t offset, bool write)
      : iov_(std::move(iov)), mem_(std::move(mem)), fd_(fd), offset_(offset), write_(write) {}

  void Execute() override {
    size_t idx = 0;
    int64_t total = 0;
    while (idx < iov_.size()) {
      ssize_t n = write_ ? pwritev(fd_, &iov_[idx], static_cast<int>(iov_.size() - idx), offset_ + total)
                         : preadv(fd_, &iov_[idx], static_cast<int>(iov_.size() - idx), offset_ + total);
      if (n < 0) {
        if (errno == EINTR) continue;
        result_ = total > 0 ? total : -errno;
        return;
      }
      if (n == 0) break;  // end of file (read) or nothing accepted (write)
      total += n;
      // Advance past what was transferred; a short transfer leaves a partial segment.
      size_t left = static_cast<size_t>(n);
      while (idx < iov_.size() && left >= iov_[idx].iov_len) {
        left -= iov_[idx].iov_len;
        idx++;
      }
      if (idx < iov_.size() && left > 0) {
        iov_[idx].iov_base = static_cast<uint8_t*>(iov_[idx].iov_base) + left;
        iov_[idx].iov_len -= left;
      }
    }
    result_ = total;
  }

  Napi::Value Complete(Napi::Env env) override {
    return Napi::Number::New(env, static_cast<double>(result_));
  }

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
                        InstanceMethod("counters", &VirtQueueWrap::Counters)});
  }

  explicit VirtQueueWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VirtQueueWrap>(info) {
    if (info.Length() < 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(info.Env(), "VirtQueue(memory: GuestMemory)");
    }
    memory_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    memory_ = GuestMemoryWrap::Unwrap(info[0].As<Napi::Object>());
  }

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
  Napi::Value Remap(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), q_.Remap(memory_->state().table()));
  }

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
    if (info.Length() < 4 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(env, "pop(infos: Uint32Array, max, arena, slotSize)");
    }
    Napi::Uint32Array infos = info[0].As<Napi::Uint32Array>();
    uint32_t max = std::min<uint32_t>(ArgUint32(info, 1), static_cast<uint32_t>(infos.ElementLength() / 4));
    Napi::Uint8Array arena = ArgBytes(info, 2);
    uint32_t slot = ArgUint32(info, 3);
    if (slot == 0 || static_cast<uint64_t>(slot) * q_.size() > arena.ByteLength()) {
      throw Napi::RangeError::New(env, "staging arena too small for the queue");
    }
    uint32_t count = 0;
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
      size_t staged = GatherCopy(c->readable, 0, arena.Data() + static_cast<size_t>(head) * slot,
                                 std::min<uint64_t>(slot, c->readable_len));
      uint32_t* out = infos.Data() + 4 * count;
      bool foreign = !c->foreign_readable.empty() || !c->foreign_writable.empty();
      out[0] = head | (foreign ? kForeignFlag : 0);
      out[1] = static_cast<uint32_t>(c->readable_len);
      out[2] = static_cast<uint32_t>(c->writable_len);
      out[3] = static_cast<uint32_t>(staged);
      count++;
    }
    return Napi::Number::New(env, count);
  }

  Napi::Value EnableNotification(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), q_.EnableNotification());
  }

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
    return Napi::Boolean::New(env, q_.AddUsed(static_cast<uint16_t>(head), used));
  }

  // flush() → bool: publishes used entries; interrupts the guest through the call eventfd if
  // the guest asked for it.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    bool notify = q_.PublishUsed();
    if (notify && call_fd_ >= 0) {
      uint64_t one = 1;
      ssize_t n;
      do {
        n = write(call_fd_, &one, sizeof one);
      } while (n < 0 && errno == EINTR);
    }
    return Napi::Boolean::New(info.Env(), notify);
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
    std::vector<iovec> iov = Slice(write ? c->readable : c->writable, static_cast<uint64_t>(from), static_cast<uint64_t>(len));
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
  Napi::Value InFlightCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), q_.in_flight());
  }

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
  GuestMemoryWrap* memory_;
  Napi::ObjectReference memory_ref_;  // keeps the GuestMemory object alive
  int call_fd_ = -1;
};

}  // namespace

void InitQueueBinding(Napi::Env env, Napi::Object exports) {
  exports.Set("VirtQueue", VirtQueueWrap::Define(env));
}

}  // namespace vfs

// The native FUSE READ/WRITE fast path — the only native file that knows FUSE.
//
// Why it exists (measured, bench/results/2026-11-22-0809.md; docs/architecture.md): a 4 KiB
// READ served through JavaScript crosses four nested async functions (server → handler →
// passthrough → zero-copy writer), allocates a FuseCall and a request object, and hops through
// microtasks and a setImmediate flush; vufs randread4k reached 0.63× the Rust virtiofsd at
// QD64 and 0.67× at QD1, with ~8 µs of daemon CPU per request of which the preadv is < 1 µs.
// Here a READ on a handle JS registered is answered inside the pop of its chain: one preadv
// straight into the guest's buffers, the fuse_out_header, the used entry. Measured with it
// (vufs, same run as Rust 1.14): randread4k QD64 108k → 300–440k ops/s (Rust ≈ 250k), daemon
// CPU 6.2 → 1.6 µs/op (Rust 2.7); QD1 21k → 55k (Rust 39k).
//
// What it decides, and nothing more. It holds no policy: the file system grants, per open
// handle, whether READs and WRITEs on it may be served here (a wrapper that must see every
// READ or WRITE — --readonly, DAX range copies, the removal of a remapped security.capability
// before each write — withdraws the grant), and the FUSE core registers only what the whole
// stack granted (src/fuse/direct-io.ts). Every request that is not exactly the shape the guest
// kernel sends, or whose handle has no grant for it, or that arrives while the FUSE session is
// not up, is left untouched for the JS core, which validates and answers it as it always has.
// So every malformed READ still gets the JS core's errno, and the JS core stays the only
// definition of FUSE semantics:
//   - chain: exactly 80 readable bytes (fuse_in_header + fuse_read_in, no extensions) and at
//     least 16 writable ones; header len == 80, opcode == READ, total_extlen == 0;
//   - fh registered for this nodeid with a read grant (JS replies EBADF otherwise — falls back);
//   - offset ≤ INT64_MAX (JS's bigint check) — falls back otherwise.
// Served like the JS handler does: size = min(read size, max_read, reply capacity − 16);
// preadv until done or end of file; on an error before any byte, an error reply with that
// errno (EIO outside 1..max_errno: the core hands us its bound, src/fuse/reply.ts); otherwise
// a header with len = 16 + bytes read. With a worker pool, reads of ≥ 64 KiB run on a pool
// thread (as the JS path's would) on a duplicate of the descriptor; the chain stays in flight
// until then. The JS side adds these requests to its statistics (src/daemon/stats-dump.ts).
//
// WRITE is served the same way on handles with a write grant: payload exactly the rest of the
// request and ≤ max_write, no FUSE_WRITE_KILL_SUIDGID (the request then asks for more than a
// pwritev: JS clears suid/sgid first), room for fuse_write_out; reply count = bytes written.
// Measured: randwrite4k QD16 daemon CPU 10.6 → 5 µs/op, 75k → 130–145k ops/s.
//
// Lifetime: the FUSE core unregisters a handle before it asks the file system to release it,
// and clears the table before the session ends (DESTROY, reset, a new INIT), on the same
// thread as this code; the file system keeps a granted descriptor open until that release or
// session end (the DirectIo contract, src/filesystem/filesystem.ts). So a registered fd is
// always open.
#include "fuse_fast_path.h"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "iovec_io.h"
#include "util.h"
#include "worker_pool.h"

namespace vfs {

namespace {

constexpr uint32_t kOpcodeRead = 15;
constexpr uint32_t kOpcodeWrite = 16;
constexpr uint32_t kInHeaderSize = 40;
constexpr uint32_t kReadInSize = 40;   // fuse_read_in
constexpr uint32_t kWriteInSize = 40;  // fuse_write_in: fh, offset, size, write_flags, lock_owner, flags, padding
constexpr uint32_t kOutHeaderSize = 16;
constexpr uint32_t kWriteOutSize = 8;           // fuse_write_out: size, padding
constexpr uint32_t kWriteKillSuidgid = 1 << 2;  // FUSE_WRITE_KILL_SUIDGID

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint64_t LoadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

namespace {

// A transfer of at least this many bytes goes to the worker pool when there is one: copying it
// takes longer than the hand-off, and parallel copies use both cores (measured: seqread1m at
// --thread-pool-size=4 reached 3.6 GB/s on the JS thread alone, ~10 GB/s pooled).
constexpr uint64_t kPoolMin = 64 * 1024;

// preadv/pwritev on a pool thread between the chain's buffers and a file. It owns a duplicate
// of the handle's descriptor (a RELEASE may close the original meanwhile) and the memory table
// the iovecs point into; the reply is written on the JS thread, unless the queue was stopped
// meanwhile.
class PooledIoJob : public Job {
 public:
  PooledIoJob(FuseFastPath* fp, SplitQueue* q, uint16_t head, uint64_t unique, uint64_t nodeid, bool write, std::vector<iovec> iov,
              MemoryTablePtr mem, int fd, int64_t offset, const FastPathPool& pool)
      : fp_(fp), q_(q), generation_(q->generation()), head_(head), unique_(unique), nodeid_(nodeid), write_(write), iov_(std::move(iov)),
        mem_(std::move(mem)), fd_(fd), offset_(offset), queue_ref_(Napi::Persistent(pool.queue_owner)),
        fp_ref_(Napi::Persistent(pool.fast_path_owner)) {}

  ~PooledIoJob() override {
    if (fd_ >= 0) close(fd_);
  }

  void Execute() override { result_ = TransferAll(&iov_, fd_, offset_, write_); }

  Napi::Value Complete(Napi::Env env) override {
    close(fd_);
    fd_ = -1;
    if (q_->generation() == generation_ && q_->InFlight(head_) != nullptr) {
      if (write_) {
        fp_->ReplyWrite(q_, head_, unique_, result_);
      } else {
        fp_->Reply(q_, head_, unique_, result_);
      }
    }
    fp_->PooledDone(nodeid_);
    return env.Undefined();
  }

 private:
  FuseFastPath* fp_;
  SplitQueue* q_;
  uint32_t generation_;
  uint16_t head_;
  uint64_t unique_;
  uint64_t nodeid_;
  bool write_;
  std::vector<iovec> iov_;
  MemoryTablePtr mem_;
  int fd_;
  int64_t offset_;
  int64_t result_ = 0;
  Napi::ObjectReference queue_ref_;  // keeps q_ alive
  Napi::ObjectReference fp_ref_;     // keeps fp_ alive
};

}  // namespace

bool FuseFastPath::TryServe(SplitQueue* q, uint16_t head, const FastPathPool* pool) {
  if (!up_) return false;
  Chain* c = q->InFlight(head);
  if (c == nullptr || c->readable_len < kInHeaderSize + kReadInSize || c->writable_len < kOutHeaderSize) return false;
  // One snapshot of the request: the guest may rewrite its buffers while we look.
  uint8_t in[kInHeaderSize + kReadInSize];  // fuse_write_in has the same 40 bytes
  if (GatherCopy(c->readable, 0, in, sizeof in) != sizeof in) return false;
  uint32_t opcode = LoadU32(in + 4);
  if (opcode != kOpcodeRead && opcode != kOpcodeWrite) return false;
  bool write = opcode == kOpcodeWrite;
  const uint8_t* arg = in + kInHeaderSize;
  uint64_t fh = LoadU64(arg);
  uint64_t offset = LoadU64(arg + 8);
  uint32_t size = LoadU32(arg + 16);
  auto it = handles_.find(fh);
  bool usual = LoadU32(in) == c->readable_len && LoadU16(in + 36) == 0 && it != handles_.end() && it->second.nodeid == LoadU64(in + 16) &&
               offset <= static_cast<uint64_t>(INT64_MAX) && (write ? it->second.write : it->second.read);
  if (write) {
    // WRITE: the payload is exactly the rest of the request, within max_write; no kill of
    // suid/sgid asked (JS does that first); room for fuse_write_out.
    usual = usual && c->readable_len == kInHeaderSize + kWriteInSize + uint64_t{size} && size <= max_write_ &&
            (LoadU32(arg + 20) & kWriteKillSuidgid) == 0 && c->writable_len >= kOutHeaderSize + kWriteOutSize;
  } else {
    usual = usual && c->readable_len == kInHeaderSize + kReadInSize;
  }
  if (!usual) {
    passed++;
    return false;
  }
  uint64_t unique = LoadU64(in + 8);
  uint64_t want = write ? size : std::min<uint64_t>({size, max_read_, c->writable_len - kOutHeaderSize});
  if (want == 0) {
    if (write) {
      ReplyWrite(q, head, unique, 0);
    } else {
      Reply(q, head, unique, 0);
    }
    return true;
  }
  if (write) {
    SliceInto(c->readable, kInHeaderSize + kWriteInSize, want, &iov_);
  } else {
    SliceInto(c->writable, kOutHeaderSize, want, &iov_);
  }
  if (pool != nullptr && want >= kPoolMin) {
    int dup_fd = fcntl(it->second.fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd >= 0) {
      pooled++;
      pooled_in_flight_[it->second.nodeid]++;
      auto job = std::make_unique<PooledIoJob>(this, q, head, unique, it->second.nodeid, write, iov_, c->memory, dup_fd,
                                               static_cast<int64_t>(offset), *pool);
      SubmitJob(pool->env, std::move(job), pool->done);
      return true;
    }
    // No descriptor to spare: do it here instead.
  }
  int64_t got = TransferAll(&iov_, it->second.fd, static_cast<int64_t>(offset), write);
  if (write) {
    ReplyWrite(q, head, unique, got);
  } else {
    Reply(q, head, unique, got);
  }
  return true;
}

bool FuseFastPath::WhenIdle(uint64_t nodeid, Napi::Function done) {
  if (pooled_in_flight_.count(nodeid) == 0) return true;
  idle_waiters_[nodeid].push_back(Napi::Persistent(done));
  return false;
}

void FuseFastPath::PooledDone(uint64_t nodeid) {
  auto it = pooled_in_flight_.find(nodeid);
  if (it == pooled_in_flight_.end() || --it->second > 0) return;
  pooled_in_flight_.erase(it);
  auto w = idle_waiters_.find(nodeid);
  if (w == idle_waiters_.end()) return;
  std::vector<Napi::FunctionReference> waiters = std::move(w->second);
  idle_waiters_.erase(w);
  for (Napi::FunctionReference& f : waiters) f.Call({});
}

void FuseFastPath::ReplyWrite(SplitQueue* q, uint16_t head, uint64_t unique, int64_t got) {
  Chain* c = q->InFlight(head);
  if (c == nullptr) return;
  if (got < 0) {
    ReplyHeader(q, c, head, unique, got, kOutHeaderSize);
    writes++;
    return;
  }
  uint8_t out[kOutHeaderSize + kWriteOutSize] = {};
  uint32_t len = sizeof out;
  uint32_t count = static_cast<uint32_t>(got);
  std::memcpy(out, &len, 4);
  std::memcpy(out + 8, &unique, 8);
  std::memcpy(out + kOutHeaderSize, &count, 4);  // fuse_write_out.size; padding stays 0
  ScatterCopy(c->writable, 0, out, sizeof out);
  written += count;
  writes++;
  q->AddUsed(head, len);
}

void FuseFastPath::Reply(SplitQueue* q, uint16_t head, uint64_t unique, int64_t got) {
  Chain* c = q->InFlight(head);
  if (c == nullptr) return;
  reads++;
  if (got >= 0) bytes += static_cast<uint64_t>(got);
  ReplyHeader(q, c, head, unique, got, kOutHeaderSize + static_cast<uint32_t>(got < 0 ? 0 : got));
}

// Writes a fuse_out_header of `len` bytes (an error reply when got < 0) and returns the chain.
void FuseFastPath::ReplyHeader(SplitQueue* q, Chain* c, uint16_t head, uint64_t unique, int64_t got, uint32_t len) {
  int32_t error = 0;
  if (got < 0) {
    int64_t err = -got;
    if (err <= 0 || err > static_cast<int64_t>(max_errno_)) err = EIO;
    error = static_cast<int32_t>(-err);
    errors[err]++;
    len = kOutHeaderSize;
  }
  uint8_t out[kOutHeaderSize];
  std::memcpy(out, &len, 4);
  std::memcpy(out + 4, &error, 4);
  std::memcpy(out + 8, &unique, 8);
  ScatterCopy(c->writable, 0, out, sizeof out);
  q->AddUsed(head, len);
}

namespace {

// Marks JS objects that wrap a FuseFastPath, so a VirtQueue can check what it is given.
constexpr napi_type_tag kFastPathTag = {0x6a1f0c2d9b3e4a57ULL, 0x8c21d4f0e5b7a693ULL};

class FuseFastPathWrap : public Napi::ObjectWrap<FuseFastPathWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "FuseFastPath",
        {InstanceMethod("register", &FuseFastPathWrap::Register), InstanceMethod("unregister", &FuseFastPathWrap::Unregister),
         InstanceMethod("clear", &FuseFastPathWrap::Clear), InstanceMethod("setSession", &FuseFastPathWrap::SetSession),
         InstanceMethod("counters", &FuseFastPathWrap::Counters), InstanceMethod("whenIdle", &FuseFastPathWrap::WhenIdle)});
  }

  explicit FuseFastPathWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FuseFastPathWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kFastPathTag);
  }

  FuseFastPath fp;

 private:
  // register(fh, nodeid, fd, read, write): numbers (JS handles and nodeids are safe integers).
  Napi::Value Register(const Napi::CallbackInfo& info) {
    int64_t fh = ArgInt64(info, 0);
    int64_t nodeid = ArgInt64(info, 1);
    int32_t fd = ArgInt32(info, 2);
    if (fh < 0 || nodeid < 0 || fd < 0 || info.Length() < 5)
      throw Napi::RangeError::New(info.Env(), "register(fh, nodeid, fd, read, write)");
    fp.Register(static_cast<uint64_t>(fh), static_cast<uint64_t>(nodeid), fd, info[3].ToBoolean(), info[4].ToBoolean());
    return info.Env().Undefined();
  }

  Napi::Value Unregister(const Napi::CallbackInfo& info) {
    int64_t fh = ArgInt64(info, 0);
    if (fh >= 0) fp.Unregister(static_cast<uint64_t>(fh));
    return info.Env().Undefined();
  }

  Napi::Value Clear(const Napi::CallbackInfo& info) {
    fp.Clear();
    return info.Env().Undefined();
  }

  // whenIdle(nodeid, callback) → true if no pooled request of the inode is in flight; else
  // false, and callback() runs once the last one completed.
  Napi::Value WhenIdle(const Napi::CallbackInfo& info) {
    int64_t nodeid = ArgInt64(info, 0);
    if (nodeid < 0 || info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(info.Env(), "whenIdle(nodeid, callback)");
    return Napi::Boolean::New(info.Env(), fp.WhenIdle(static_cast<uint64_t>(nodeid), info[1].As<Napi::Function>()));
  }

  // setSession(up, maxRead, maxWrite, maxErrno)
  Napi::Value SetSession(const Napi::CallbackInfo& info) {
    fp.SetSession(info.Length() > 0 && info[0].ToBoolean(), ArgUint32(info, 1), ArgUint32(info, 2), ArgUint32(info, 3));
    return info.Env().Undefined();
  }

  // counters() → { reads, bytes, writes, written, passed, pooled, handles, errors: { [errno]: count } }
  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("reads", Napi::Number::New(env, static_cast<double>(fp.reads)));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(fp.bytes)));
    o.Set("writes", Napi::Number::New(env, static_cast<double>(fp.writes)));
    o.Set("written", Napi::Number::New(env, static_cast<double>(fp.written)));
    o.Set("passed", Napi::Number::New(env, static_cast<double>(fp.passed)));
    o.Set("pooled", Napi::Number::New(env, static_cast<double>(fp.pooled)));
    o.Set("handles", Napi::Number::New(env, static_cast<double>(fp.handles())));
    Napi::Object errors = Napi::Object::New(env);
    for (uint32_t e = 1; e <= FuseFastPath::kMaxErrno; e++) {
      if (fp.errors[e] != 0) errors.Set(Napi::Number::New(env, e), Napi::Number::New(env, static_cast<double>(fp.errors[e])));
    }
    o.Set("errors", errors);
    return o;
  }
};

}  // namespace

FuseFastPath* UnwrapFuseFastPath(Napi::Env env, Napi::Object o) {
  if (!o.CheckTypeTag(&kFastPathTag)) return nullptr;
  return &FuseFastPathWrap::Unwrap(o)->fp;
}

void InitFuseFastPath(Napi::Env env, Napi::Object exports) { exports.Set("FuseFastPath", FuseFastPathWrap::Define(env)); }

}  // namespace vfs

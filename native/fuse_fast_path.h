// The native FUSE READ/WRITE fast path: the one place where native code knows FUSE (see
// fuse_fast_path.cc for why it exists and exactly what it decides).
#pragma once

#include <napi.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "virtqueue.h"

namespace vfs {

// Where a large read may go instead of the calling thread: the worker pool. The job keeps
// both JS objects alive and calls `done` on the JS thread once the reply is in the used ring.
struct FastPathPool {
  Napi::Env env;
  Napi::Object queue_owner;  // the VirtQueue whose SplitQueue the chain belongs to
  Napi::Object fast_path_owner;
  Napi::Function done;
};

class FuseFastPath {
 public:
  // Answers the chain `head` (in flight on `q`) if it is a READ or WRITE this path may serve;
  // the chain is then returned to the guest (AddUsed, not yet published) — or, for a large
  // transfer with a worker pool (`pool` set), handed to a pool thread that returns it later.
  // False: untouched, for JS.
  bool TryServe(SplitQueue* q, uint16_t head, const FastPathPool* pool);
  // Writes the reply of a read that moved `got` bytes (or failed, -errno) and returns the chain
  // to the guest; ReplyWrite the same for a write (fuse_write_out).
  void Reply(SplitQueue* q, uint16_t head, uint64_t unique, int64_t got);
  void ReplyWrite(SplitQueue* q, uint16_t head, uint64_t unique, int64_t got);

  // The FUSE core (src/fuse/direct-io.ts) keeps this table equal to the direct I/O the file
  // system granted: Register after OPEN/CREATE/TMPFILE replied with a grant, Unregister before
  // it asks the file system to release the handle or withdraws the grant, Clear before the
  // session ends. `read` / `write`: which of the two the file system lets us serve.
  void Register(uint64_t fh, uint64_t nodeid, int fd, bool read, bool write) { handles_[fh] = Handle{nodeid, fd, read, write}; }
  void Unregister(uint64_t fh) { handles_.erase(fh); }
  void Clear() { handles_.clear(); }
  // Serve only while the FUSE session is up (after INIT, before DESTROY/reset starts), with
  // the core's limits: max_read, max_write, and the largest errno a reply may carry (larger
  // ones become EIO, as in the core's errnoForReply).
  void SetSession(bool up, uint32_t max_read, uint32_t max_write, uint32_t max_errno) {
    up_ = up;
    max_read_ = max_read;
    max_write_ = max_write;
    max_errno_ = max_errno < kMaxErrno ? max_errno : kMaxErrno;
  }
  size_t handles() const { return handles_.size(); }
  // Requests of inode `nodeid` handed to the worker pool and not yet completed: a caller that
  // unregistered the inode's handles waits for them before it relies on the file's contents.
  // True if there are none; otherwise `done` is called (on the JS thread) when the last completes.
  bool WhenIdle(uint64_t nodeid, Napi::Function done);
  // A pooled request of `nodeid` completed (JS thread).
  void PooledDone(uint64_t nodeid);

  uint64_t reads = 0;                          // READs answered here (successes and errors)
  uint64_t bytes = 0;                          // file bytes delivered by them
  uint64_t writes = 0;                         // WRITEs answered here (successes and errors)
  uint64_t written = 0;                        // file bytes written by them
  uint64_t passed = 0;                         // READs/WRITEs left to JS (unknown handle, unusual shape)
  uint64_t pooled = 0;                         // READs/WRITEs whose preadv/pwritev ran on a worker thread
  static constexpr uint32_t kMaxErrno = 4095;  // bound of the counters below (the core's is smaller)
  uint64_t errors[kMaxErrno + 1] = {};         // error replies by positive errno

 private:
  struct Handle {
    uint64_t nodeid;
    int fd;
    bool read;
    bool write;
  };
  std::unordered_map<uint64_t, Handle> handles_;
  std::unordered_map<uint64_t, uint32_t> pooled_in_flight_;                          // per nodeid
  std::unordered_map<uint64_t, std::vector<Napi::FunctionReference>> idle_waiters_;  // per nodeid
  void ReplyHeader(SplitQueue* q, Chain* c, uint16_t head, uint64_t unique, int64_t got, uint32_t len);

  bool up_ = false;
  uint32_t max_errno_ = 0;
  uint32_t max_read_ = 0;
  uint32_t max_write_ = 0;
  std::vector<iovec> iov_;  // reused for every read: no allocation per request
};

// The FuseFastPath behind a JS FuseFastPath object, or nullptr if `o` is not one.
FuseFastPath* UnwrapFuseFastPath(Napi::Env env, Napi::Object o);
void InitFuseFastPath(Napi::Env env, Napi::Object exports);

}  // namespace vfs

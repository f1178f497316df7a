// Device side of a split virtqueue: pops descriptor chains the guest made available,
// validates and translates them into iovecs over guest memory, and returns used entries.
// Everything the guest wrote is untrusted: indices, lengths, flags and addresses are checked
// and a bad chain is returned to the guest empty and counted, never followed.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "guest_memory.h"
#include "vring_layout.h"

namespace vfs {

// A descriptor outside our memory table that the front-end can reach for us: Kata's QEMU keeps
// the DAX window out of the vhost-user memory table, so a FUSE READ into (or WRITE from) a
// buffer the guest mmapped from a DAX file points there, and the daemon asks the VMM to do that
// I/O (FS_IO). `offset` counts from the start of the chain's bytes in that direction; once a
// direction has a foreign segment, every later descriptor of it is foreign too, so translated
// iovecs always cover a prefix.
struct ForeignSegment {
  uint64_t offset;
  uint64_t gpa;
  uint64_t len;
};

struct Chain {
  uint16_t head = 0;
  bool in_flight = false;
  std::vector<iovec> readable;  // device-readable bytes (the request), in order
  std::vector<iovec> writable;  // device-writable bytes (the reply), in order
  uint64_t readable_len = 0;    // bytes in that direction, foreign segments included
  uint64_t writable_len = 0;
  std::vector<ForeignSegment> foreign_readable;  // empty unless the queue allows foreign memory
  std::vector<ForeignSegment> foreign_writable;
  MemoryTablePtr memory;  // keeps the regions the iovecs point into mapped
};

struct QueueCounters {
  uint64_t popped = 0;
  uint64_t completed = 0;
  uint64_t notifications = 0;
  uint64_t malformed = 0;
  std::string last_error;
};

struct QueueSetup {
  uint32_t size;
  uint64_t desc_uva, avail_uva, used_uva;
  bool event_idx;
  uint16_t last_avail_idx;
};

enum class PopResult { kChain, kEmpty, kMalformed, kBroken };

class SplitQueue {
 public:
  // Returns an empty string or a reason the setup is unusable.
  std::string Start(const QueueSetup& s, MemoryTablePtr memory);
  void Stop();
  // The frontend replaced the memory table: translate the rings again; chains in flight keep
  // the table they were built against. Returns '' or a reason (the queue is then stopped).
  std::string Remap(MemoryTablePtr memory);
  bool started() const { return started_; }
  // The guest corrupted the ring beyond recovery (e.g. avail index jumped past the queue):
  // nothing more is popped until the next Start().
  bool broken() const { return broken_; }
  // Chains popped and not yet returned.
  uint32_t in_flight() const { return in_flight_; }
  uint16_t last_avail_idx() const { return last_avail_; }
  // Accept descriptors outside the memory table as foreign segments (see ForeignSegment)
  // instead of rejecting the chain. Only while a front-end can do FS_IO for us.
  void set_allow_foreign(bool allow) { allow_foreign_ = allow; }
  uint32_t size() const { return size_; }
  // Changes on every Start() and Stop(): a completion that outlived its run (a pooled read)
  // must not return a head that now names another request.
  uint32_t generation() const { return generation_; }

  // Pops the next chain into chains_[head]. On kMalformed the entry was consumed and already
  // returned to the guest as used with length 0.
  PopResult Pop(uint16_t* head);
  // With EVENT_IDX: ask to be kicked for anything after what we consumed. Returns true if more
  // entries arrived meanwhile (the caller must pop again instead of sleeping).
  bool EnableNotification();

  Chain* InFlight(uint16_t head);
  // Returns a chain to the guest with `len` bytes written. False if it was not in flight.
  bool AddUsed(uint16_t head, uint32_t len);
  // Publishes used entries and decides whether the guest must be interrupted.
  bool PublishUsed();
  // With EVENT_IDX: whether publishing now would cross the guest's used_event, i.e. the guest
  // is waiting for an interrupt that is due. A hint (no fence): PublishUsed() decides.
  bool InterruptDue() const;

  QueueCounters counters;

 private:
  bool BuildChain(uint16_t head, Chain* chain, std::string* why);
  bool AddDescriptor(const VringDesc& d, Chain* chain, bool* seen_writable, std::string* why);
  void ReturnMalformed(uint16_t head, const std::string& why);
  void WriteUsedElem(uint16_t head, uint32_t len);

  bool started_ = false;
  uint32_t generation_ = 0;
  bool broken_ = false;
  bool allow_foreign_ = false;
  uint32_t in_flight_ = 0;
  uint32_t size_ = 0;
  bool event_idx_ = false;
  MemoryTablePtr memory_;
  const VringDesc* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint16_t last_avail_ = 0;
  uint16_t used_idx_ = 0;       // our shadow of used->idx, ahead of it until published
  uint16_t published_idx_ = 0;  // used->idx as the guest last saw it
  std::vector<Chain> chains_;
  QueueSetup setup_{};
};

}  // namespace vfs

#include "virtqueue.h"

#include <cstring>

namespace vfs {

namespace {
// Linux caps one preadv/pwritev at IOV_MAX segments; a longer chain is not something the
// virtio-fs driver builds (max_pages + a few headers), so we refuse it rather than split I/O.
constexpr size_t kMaxSegments = 1024;
constexpr uint64_t kMaxExactAddress = (1ull << 53) - 1;  // largest integer a double holds exactly

// The 16-bit ring indices are accessed atomically: check the host addresses we will use (the
// front-end's own addresses can differ from ours modulo the alignment).
bool RingAligned(const uint8_t* desc, const uint8_t* avail, const uint8_t* used) {
  return (reinterpret_cast<uintptr_t>(desc) & 15) == 0 && (reinterpret_cast<uintptr_t>(avail) & 1) == 0 &&
         (reinterpret_cast<uintptr_t>(used) & 3) == 0;
}
}  // namespace

std::string SplitQueue::Start(const QueueSetup& s, MemoryTablePtr memory) {
  Stop();
  generation_++;
  if (s.size == 0 || s.size > kMaxQueueSize || (s.size & (s.size - 1)) != 0) {
    return "queue size " + std::to_string(s.size) + " is not a power of two ≤ 32768";
  }
  uint8_t* desc = memory->TranslateUva(s.desc_uva, DescTableBytes(s.size));
  uint8_t* avail = memory->TranslateUva(s.avail_uva, AvailRingBytes(s.size));
  uint8_t* used = memory->TranslateUva(s.used_uva, UsedRingBytes(s.size));
  if (desc == nullptr || avail == nullptr || used == nullptr) {
    return "ring addresses are outside guest memory";
  }
  if (!RingAligned(desc, avail, used)) return "misaligned ring address";
  size_ = s.size;
  event_idx_ = s.event_idx;
  memory_ = std::move(memory);
  desc_ = reinterpret_cast<const VringDesc*>(desc);
  avail_ = avail;
  used_ = used;
  last_avail_ = s.last_avail_idx;
  // As libvhost-user does: continue from the used index the guest can see. After a pause the
  // rings were drained, so it equals the base; after a reboot both are 0.
  used_idx_ = LoadAcquire16(used_ + 2);
  published_idx_ = used_idx_;
  broken_ = false;
  in_flight_ = 0;
  chains_.clear();
  chains_.resize(size_);
  setup_ = s;
  started_ = true;
  return "";
}

std::string SplitQueue::Remap(MemoryTablePtr memory) {
  if (!started_) return "";
  uint8_t* desc = memory->TranslateUva(setup_.desc_uva, DescTableBytes(size_));
  uint8_t* avail = memory->TranslateUva(setup_.avail_uva, AvailRingBytes(size_));
  uint8_t* used = memory->TranslateUva(setup_.used_uva, UsedRingBytes(size_));
  if (desc == nullptr || avail == nullptr || used == nullptr || !RingAligned(desc, avail, used)) {
    Stop();
    return "ring addresses are outside the new guest memory table";
  }
  memory_ = std::move(memory);
  desc_ = reinterpret_cast<const VringDesc*>(desc);
  avail_ = avail;
  used_ = used;
  return "";
}

void SplitQueue::Stop() {
  generation_++;
  started_ = false;
  in_flight_ = 0;
  chains_.clear();  // drops the memory references of chains that were never completed
  memory_.reset();
  desc_ = nullptr;
  avail_ = used_ = nullptr;
}

Chain* SplitQueue::InFlight(uint16_t head) {
  if (!started_ || head >= chains_.size() || !chains_[head].in_flight) return nullptr;
  return &chains_[head];
}

PopResult SplitQueue::Pop(uint16_t* head_out) {
  if (!started_) return PopResult::kEmpty;
  if (broken_) return PopResult::kBroken;
  uint16_t avail_idx = LoadAcquire16(avail_ + 2);
  uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_);
  if (pending == 0) return PopResult::kEmpty;
  if (pending > size_) {
    // The guest claims more entries than the ring holds: nothing in it can be trusted.
    counters.malformed++;
    counters.last_error = "avail index moved by more than the queue size";
    broken_ = true;
    return PopResult::kBroken;
  }
  uint16_t head = LoadRelaxed16(avail_ + 4 + 2 * (last_avail_ % size_));
  last_avail_++;
  if (head >= size_) {
    // Not a descriptor we could name in the used ring: skip it.
    counters.malformed++;
    counters.last_error = "avail entry names descriptor " + std::to_string(head);
    return PopResult::kMalformed;
  }
  Chain& chain = chains_[head];
  if (chain.in_flight) {
    counters.malformed++;
    counters.last_error = "descriptor " + std::to_string(head) + " made available twice";
    return PopResult::kMalformed;
  }
  std::string why;
  if (!BuildChain(head, &chain, &why)) {
    ReturnMalformed(head, why);
    return PopResult::kMalformed;
  }
  chain.in_flight = true;
  in_flight_++;
  counters.popped++;
  *head_out = head;
  return PopResult::kChain;
}

bool SplitQueue::AddDescriptor(const VringDesc& d, Chain* chain, bool* seen_writable, std::string* why) {
  if (d.len == 0) return true;  // harmless; nothing to translate
  bool writable = (d.flags & kDescFlagWrite) != 0;
  if (!writable && *seen_writable) {
    *why = "device-readable descriptor after a device-writable one";
    return false;
  }
  *seen_writable = *seen_writable || writable;
  std::vector<iovec>* list = writable ? &chain->writable : &chain->readable;
  std::vector<ForeignSegment>* foreign = writable ? &chain->foreign_writable : &chain->foreign_readable;
  if (!foreign->empty() || !memory_->TranslateGpa(d.addr, d.len, list)) {
    if (!allow_foreign_) {
      *why = "descriptor address outside guest memory";
      return false;
    }
    // Addresses travel to JavaScript as doubles: keep them exact (and the range from wrapping).
    if (d.addr > kMaxExactAddress || d.len > kMaxExactAddress - d.addr) {
      *why = "foreign descriptor address out of range";
      return false;
    }
    foreign->push_back(ForeignSegment{writable ? chain->writable_len : chain->readable_len, d.addr, d.len});
  }
  // Count both directions: a chain longer than IOV_MAX segments in total is not one the
  // virtio-fs driver builds, and the spec forbids chains longer than the queue.
  if (chain->readable.size() + chain->writable.size() + chain->foreign_readable.size() + chain->foreign_writable.size() > kMaxSegments) {
    *why = "chain has more than 1024 segments";
    return false;
  }
  (writable ? chain->writable_len : chain->readable_len) += d.len;
  return true;
}

bool SplitQueue::BuildChain(uint16_t head, Chain* chain, std::string* why) {
  chain->head = head;
  chain->readable.clear();
  chain->writable.clear();
  chain->readable_len = chain->writable_len = 0;
  chain->foreign_readable.clear();
  chain->foreign_writable.clear();
  chain->memory = memory_;
  bool seen_writable = false;
  uint16_t idx = head;
  for (uint32_t hops = 0;; hops++) {
    if (hops >= size_) {
      *why = "descriptor chain loops or is longer than the queue";
      return false;
    }
    VringDesc d;
    std::memcpy(&d, &desc_[idx], sizeof d);  // one snapshot: the guest may rewrite it
    if (d.flags & kDescFlagIndirect) {
      if (d.flags & kDescFlagNext) {
        *why = "indirect descriptor with NEXT set";
        return false;
      }
      if (d.len == 0 || d.len % sizeof(VringDesc) != 0 || d.len / sizeof(VringDesc) > kMaxQueueSize) {
        *why = "indirect table length " + std::to_string(d.len) + " is invalid";
        return false;
      }
      const uint8_t* table = memory_->TranslateGpaContiguous(d.addr, d.len);
      if (table == nullptr) {
        *why = "indirect table outside guest memory";
        return false;
      }
      uint32_t n = d.len / sizeof(VringDesc);
      uint32_t j = 0;
      for (uint32_t inner = 0;; inner++) {
        if (inner >= n) {
          *why = "indirect chain loops";
          return false;
        }
        VringDesc id;
        std::memcpy(&id, table + j * sizeof(VringDesc), sizeof id);
        if (id.flags & kDescFlagIndirect) {
          *why = "nested indirect table";
          return false;
        }
        if (!AddDescriptor(id, chain, &seen_writable, why)) return false;
        if (!(id.flags & kDescFlagNext)) return true;
        j = id.next;
        if (j >= n) {
          *why = "indirect next index out of the table";
          return false;
        }
      }
    }
    if (!AddDescriptor(d, chain, &seen_writable, why)) return false;
    if (!(d.flags & kDescFlagNext)) return true;
    idx = d.next;
    if (idx >= size_) {
      *why = "next index " + std::to_string(idx) + " out of the queue";
      return false;
    }
  }
}

void SplitQueue::ReturnMalformed(uint16_t head, const std::string& why) {
  counters.malformed++;
  counters.last_error = why;
  Chain& chain = chains_[head];
  chain.readable.clear();
  chain.writable.clear();
  chain.memory.reset();
  WriteUsedElem(head, 0);
}

void SplitQueue::WriteUsedElem(uint16_t head, uint32_t len) {
  VringUsedElem elem{head, len};
  std::memcpy(used_ + 4 + sizeof(VringUsedElem) * (used_idx_ % size_), &elem, sizeof elem);
  used_idx_++;
}

bool SplitQueue::AddUsed(uint16_t head, uint32_t len) {
  Chain* chain = InFlight(head);
  if (chain == nullptr) return false;
  if (len > chain->writable_len) len = static_cast<uint32_t>(chain->writable_len);
  chain->in_flight = false;
  in_flight_--;
  chain->readable.clear();
  chain->writable.clear();
  chain->memory.reset();
  WriteUsedElem(head, len);
  counters.completed++;
  return true;
}

bool SplitQueue::PublishUsed() {
  if (!started_ || used_idx_ == published_idx_) return false;
  uint16_t old = published_idx_;
  published_idx_ = used_idx_;
  StoreRelease16(used_ + 2, used_idx_);
  // The guest's used_event / flags must be read after our index is visible.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  bool notify;
  if (event_idx_) {
    uint16_t used_event = LoadRelaxed16(avail_ + 4 + 2 * size_);
    notify = NeedEvent(used_event, used_idx_, old);
  } else {
    notify = (LoadRelaxed16(avail_) & kAvailFlagNoInterrupt) == 0;
  }
  if (notify) counters.notifications++;
  return notify;
}

bool SplitQueue::InterruptDue() const {
  if (!started_ || !event_idx_ || used_idx_ == published_idx_) return false;
  return NeedEvent(LoadRelaxed16(avail_ + 4 + 2 * size_), used_idx_, published_idx_);
}

bool SplitQueue::EnableNotification() {
  if (!started_ || broken_) return false;
  if (event_idx_) {
    StoreRelaxed16(used_ + 4 + sizeof(VringUsedElem) * size_, last_avail_);
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  return LoadAcquire16(avail_ + 2) != last_avail_;
}

}  // namespace vfs

// Split virtqueue memory layout (virtio 1.x §2.7). Shared by the device side (virtqueue.cc)
// and the driver side used by our userspace frontend.
#pragma once

#include <atomic>
#include <cstdint>

namespace vfs {

constexpr uint16_t kDescFlagNext = 1;
constexpr uint16_t kDescFlagWrite = 2;
constexpr uint16_t kDescFlagIndirect = 4;
constexpr uint16_t kAvailFlagNoInterrupt = 1;
constexpr uint16_t kUsedFlagNoNotify = 1;
constexpr uint32_t kMaxQueueSize = 32768;

struct VringDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VringDesc) == 16, "descriptor layout");

struct VringUsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(VringUsedElem) == 8, "used element layout");

// Byte sizes of the three parts for a queue of `n` entries (with the EVENT_IDX trailer).
inline uint64_t DescTableBytes(uint32_t n) { return 16ull * n; }
inline uint64_t AvailRingBytes(uint32_t n) { return 4ull + 2ull * n + 2; }
inline uint64_t UsedRingBytes(uint32_t n) { return 4ull + 8ull * n + 2; }

// The other side writes these concurrently: every access goes through an atomic view.
inline uint16_t LoadAcquire16(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_ACQUIRE); }
inline uint16_t LoadRelaxed16(const uint8_t* p) { return __atomic_load_n(reinterpret_cast<const uint16_t*>(p), __ATOMIC_RELAXED); }
inline void StoreRelease16(uint8_t* p, uint16_t v) { __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, __ATOMIC_RELEASE); }
inline void StoreRelaxed16(uint8_t* p, uint16_t v) { __atomic_store_n(reinterpret_cast<uint16_t*>(p), v, __ATOMIC_RELAXED); }

// virtio's vring_need_event: should the side that moved its index from `old_idx` to `new_idx`
// notify, given that the other side asked to be woken at `event_idx`?
inline bool NeedEvent(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace vfs

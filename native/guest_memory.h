// Guest memory as the frontend shares it: regions of (guest physical address, size, frontend
// virtual address) backed by fds that we mmap once. A table is immutable once published; a
// change (SET_MEM_TABLE, ADD/REM_MEM_REG) publishes a new one. Descriptor chains and I/O jobs
// keep a shared_ptr to the table they were translated against, so a region is unmapped only
// after the last in-flight request that points into it has finished.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace vfs {

class Mapping {
 public:
  Mapping(void* addr, size_t len) : addr_(addr), len_(len) {}
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* base() const { return static_cast<uint8_t*>(addr_); }

 private:
  void* addr_;
  size_t len_;
};

struct MemoryRegion {
  uint64_t gpa;   // guest physical address of the first byte
  uint64_t size;  // bytes
  uint64_t uva;   // the frontend's virtual address of the first byte (vring addresses use it)
  uint8_t* host;  // our pointer to the first byte
  std::shared_ptr<Mapping> mapping;
};

class MemoryTable {
 public:
  std::vector<MemoryRegion> regions;  // sorted by gpa, non-overlapping

  // Appends iovecs covering [gpa, gpa + len) to `out`, splitting at region boundaries.
  // Returns false (and appends nothing) if any byte lies outside every region.
  bool TranslateGpa(uint64_t gpa, uint64_t len, std::vector<iovec>* out) const;
  // Host pointer for a range that must lie inside one region (rings, indirect tables).
  uint8_t* TranslateGpaContiguous(uint64_t gpa, uint64_t len) const;
  uint8_t* TranslateUva(uint64_t uva, uint64_t len) const;
};

using MemoryTablePtr = std::shared_ptr<const MemoryTable>;

// The current table of one device. Owned by a GuestMemory JS object.
class GuestMemoryState {
 public:
  GuestMemoryState() : table_(std::make_shared<MemoryTable>()) {}
  MemoryTablePtr table() const { return table_; }
  // mmaps `fd` (not closed here) and publishes a table with the region added. Returns 0 or
  // -errno (-EINVAL for overlap or bad sizes).
  int AddRegion(int fd, uint64_t gpa, uint64_t size, uint64_t uva, uint64_t mmap_offset);
  // Removes the region matching (gpa, size); returns 0 or -ENOENT.
  int RemoveRegion(uint64_t gpa, uint64_t size);
  void Clear() { table_ = std::make_shared<MemoryTable>(); }

 private:
  MemoryTablePtr table_;
};

}  // namespace vfs

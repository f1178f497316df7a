#include "guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "util.h"

namespace vfs {

Mapping::~Mapping() {
  if (addr_ != MAP_FAILED && addr_ != nullptr) munmap(addr_, len_);
}

namespace {
const MemoryRegion* FindGpa(const std::vector<MemoryRegion>& regions, uint64_t gpa) {
  // Regions are few (≤ 509): a linear scan beats anything clever here.
  for (const MemoryRegion& r : regions) {
    if (gpa >= r.gpa && gpa - r.gpa < r.size) return &r;
  }
  return nullptr;
}
}  // namespace

bool MemoryTable::TranslateGpa(uint64_t gpa, uint64_t len, std::vector<iovec>* out) const {
  size_t mark = out->size();
  while (len > 0) {
    const MemoryRegion* r = FindGpa(regions, gpa);
    if (r == nullptr) {
      out->resize(mark);
      return false;
    }
    uint64_t off = gpa - r->gpa;
    uint64_t chunk = std::min(len, r->size - off);
    out->push_back(iovec{r->host + off, static_cast<size_t>(chunk)});
    gpa += chunk;  // cannot wrap: gpa + chunk ≤ r->gpa + r->size, checked at AddRegion
    len -= chunk;
  }
  return true;
}

uint8_t* MemoryTable::TranslateGpaContiguous(uint64_t gpa, uint64_t len) const {
  const MemoryRegion* r = FindGpa(regions, gpa);
  if (r == nullptr) return nullptr;
  uint64_t off = gpa - r->gpa;
  if (!RangeInside(off, len, r->size)) return nullptr;
  return r->host + off;
}

uint8_t* MemoryTable::TranslateUva(uint64_t uva, uint64_t len) const {
  for (const MemoryRegion& r : regions) {
    if (uva >= r.uva && uva - r.uva < r.size) {
      uint64_t off = uva - r.uva;
      if (!RangeInside(off, len, r.size)) return nullptr;
      return r.host + off;
    }
  }
  return nullptr;
}

int GuestMemoryState::AddRegion(int fd, uint64_t gpa, uint64_t size, uint64_t uva, uint64_t mmap_offset) {
  if (size == 0 || gpa + size < gpa || uva + size < uva || mmap_offset + size < mmap_offset) {
    return -EINVAL;
  }
  for (const MemoryRegion& r : table_->regions) {
    if (gpa < r.gpa + r.size && r.gpa < gpa + size) return -EINVAL;  // overlap
  }
  // A region larger than its file would raise SIGBUS on first touch: refuse it up front.
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  // (DAX mappings of a file's last range end at the next page boundary, past EOF.)
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t file_pages = (static_cast<uint64_t>(st.st_size) + page - 1) / page * page;
  if (S_ISREG(st.st_mode) && file_pages < mmap_offset + size) return -EINVAL;
  // The fd's mapping starts at file offset 0; the region starts mmap_offset bytes in. Map the
  // whole span so that mmap's page-aligned offset requirement never bites.
  size_t map_len = static_cast<size_t>(mmap_offset + size);
  void* addr = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (addr == MAP_FAILED) return -errno;
  // Guest memory is not ours to dump: keep it out of core files.
  madvise(addr, map_len, MADV_DONTDUMP);
  auto mapping = std::make_shared<Mapping>(addr, map_len);
  auto next = std::make_shared<MemoryTable>(*table_);
  next->regions.push_back(MemoryRegion{gpa, size, uva, mapping->base() + mmap_offset, mapping});
  std::sort(next->regions.begin(), next->regions.end(), [](const MemoryRegion& a, const MemoryRegion& b) { return a.gpa < b.gpa; });
  table_ = std::move(next);
  return 0;
}

int GuestMemoryState::RemoveRegion(uint64_t gpa, uint64_t size) {
  auto next = std::make_shared<MemoryTable>(*table_);
  auto it = std::find_if(next->regions.begin(), next->regions.end(), [&](const MemoryRegion& r) { return r.gpa == gpa && r.size == size; });
  if (it == next->regions.end()) return -ENOENT;
  next->regions.erase(it);
  table_ = std::move(next);
  return 0;
}

}  // namespace vfs

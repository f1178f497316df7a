// The StatRecord layout (src/filesystem/filesystem.ts): 104 bytes whose first 88 are struct
// fuse_attr, followed by the host st_dev and mount id. Filled from statx(2), or from fstatat(2)
// when the kernel has no statx (mount id 0 then).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace vfs {

constexpr size_t kStatRecordSize = 104;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "StatRecord is little-endian");

// The kernel's struct statx (include/uapi/linux/stat.h). glibc's copy lacks stx_mnt_id.
struct KernelStatxTime {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t reserved;
};
struct KernelStatx {
  uint32_t stx_mask;
  uint32_t stx_blksize;
  uint64_t stx_attributes;
  uint32_t stx_nlink;
  uint32_t stx_uid;
  uint32_t stx_gid;
  uint16_t stx_mode;
  uint16_t pad1;
  uint64_t stx_ino;
  uint64_t stx_size;
  uint64_t stx_blocks;
  uint64_t stx_attributes_mask;
  KernelStatxTime stx_atime;
  KernelStatxTime stx_btime;
  KernelStatxTime stx_ctime;
  KernelStatxTime stx_mtime;
  uint32_t stx_rdev_major;
  uint32_t stx_rdev_minor;
  uint32_t stx_dev_major;
  uint32_t stx_dev_minor;
  uint64_t stx_mnt_id;
  uint64_t spare[13];
};
static_assert(sizeof(KernelStatx) == 256, "struct statx is 256 bytes");

constexpr unsigned kStatxBasicStats = 0x7ffU;  // STATX_BASIC_STATS
constexpr unsigned kStatxMntId = 0x1000U;      // STATX_MNT_ID

namespace stat_record_detail {
inline void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
}  // namespace stat_record_detail

// Writes one record into `out` (kStatRecordSize bytes). fuse_attr.flags is left 0: FUSE_ATTR_*
// bits are the file system's decision.
inline void FillStatRecordFromStatx(const KernelStatx& s, uint8_t* out) {
  using namespace stat_record_detail;
  Put64(out + 0, s.stx_ino);
  Put64(out + 8, s.stx_size);
  Put64(out + 16, s.stx_blocks);
  Put64(out + 24, static_cast<uint64_t>(s.stx_atime.tv_sec));
  Put64(out + 32, static_cast<uint64_t>(s.stx_mtime.tv_sec));
  Put64(out + 40, static_cast<uint64_t>(s.stx_ctime.tv_sec));
  Put32(out + 48, s.stx_atime.tv_nsec);
  Put32(out + 52, s.stx_mtime.tv_nsec);
  Put32(out + 56, s.stx_ctime.tv_nsec);
  Put32(out + 60, s.stx_mode);
  Put32(out + 64, s.stx_nlink);
  Put32(out + 68, s.stx_uid);
  Put32(out + 72, s.stx_gid);
  // fuse_attr.rdev is 32 bits; glibc's makedev() equals the kernel's new_encode_dev() there.
  Put32(out + 76, static_cast<uint32_t>(makedev(s.stx_rdev_major, s.stx_rdev_minor)));
  Put32(out + 80, s.stx_blksize);
  Put32(out + 84, 0);
  Put64(out + 88, makedev(s.stx_dev_major, s.stx_dev_minor));
  Put64(out + 96, (s.stx_mask & kStatxMntId) ? s.stx_mnt_id : 0);
}

inline void FillStatRecordFromStat(const struct stat& s, uint8_t* out) {
  using namespace stat_record_detail;
  Put64(out + 0, s.st_ino);
  Put64(out + 8, static_cast<uint64_t>(s.st_size));
  Put64(out + 16, static_cast<uint64_t>(s.st_blocks));
  Put64(out + 24, static_cast<uint64_t>(s.st_atim.tv_sec));
  Put64(out + 32, static_cast<uint64_t>(s.st_mtim.tv_sec));
  Put64(out + 40, static_cast<uint64_t>(s.st_ctim.tv_sec));
  Put32(out + 48, static_cast<uint32_t>(s.st_atim.tv_nsec));
  Put32(out + 52, static_cast<uint32_t>(s.st_mtim.tv_nsec));
  Put32(out + 56, static_cast<uint32_t>(s.st_ctim.tv_nsec));
  Put32(out + 60, s.st_mode);
  Put32(out + 64, static_cast<uint32_t>(s.st_nlink));
  Put32(out + 68, s.st_uid);
  Put32(out + 72, s.st_gid);
  Put32(out + 76, static_cast<uint32_t>(s.st_rdev));
  Put32(out + 80, static_cast<uint32_t>(s.st_blksize));
  Put32(out + 84, 0);
  Put64(out + 88, s.st_dev);
  Put64(out + 96, 0);
}

// statx(dirfd, path, flags) into `out`; falls back to fstatat when statx is missing.
// Returns 0 or -errno. Runs on any thread.
inline int64_t StatIntoRecord(int dirfd, const char* path, int flags, uint8_t* out) {
  KernelStatx sx;
  std::memset(&sx, 0, sizeof(sx));
  long r = syscall(SYS_statx, dirfd, path, flags | AT_STATX_SYNC_AS_STAT, kStatxBasicStats | kStatxMntId, &sx);
  if (r == 0) {
    FillStatRecordFromStatx(sx, out);
    return 0;
  }
  if (errno != ENOSYS) return -errno;
  struct stat st;
  if (fstatat(dirfd, path, &st, flags) != 0) return -errno;
  FillStatRecordFromStat(st, out);
  return 0;
}

}  // namespace vfs

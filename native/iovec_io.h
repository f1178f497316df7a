// Byte-stream views over a descriptor chain's iovecs (guest memory, already bounds-checked by
// the virtqueue): copy in and out at an offset, take a sub-range, and move file data with
// preadv/pwritev until done, end of file, or an error. Shared by the queue binding (JS-driven
// requests) and the native READ fast path, so both move bytes exactly the same way.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vfs {

// Walks [from, from+len) of the byte stream described by `iov`, calling move(stream, done, n)
// for each piece (n bytes at `stream`, the piece's offset `done` from `from`). Returns the bytes
// walked (short where the stream ends).
template <typename Move>
inline size_t WalkAt(const std::vector<iovec>& iov, uint64_t from, size_t len, Move move) {
  size_t done = 0;
  for (const iovec& v : iov) {
    if (done == len) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    size_t n = std::min(len - done, static_cast<size_t>(v.iov_len - from));
    move(static_cast<uint8_t*>(v.iov_base) + from, done, n);
    done += n;
    from = 0;
  }
  return done;
}

// Copies [from, from+len) of the stream into `dst`. Returns bytes copied.
inline size_t GatherCopy(const std::vector<iovec>& iov, uint64_t from, uint8_t* dst, size_t len) {
  return WalkAt(iov, from, len, [dst](const uint8_t* stream, size_t done, size_t n) { std::memcpy(dst + done, stream, n); });
}

// Copies `src` into [from, from+len) of the stream. Returns bytes copied.
inline size_t ScatterCopy(const std::vector<iovec>& iov, uint64_t from, const uint8_t* src, size_t len) {
  return WalkAt(iov, from, len, [src](uint8_t* stream, size_t done, size_t n) { std::memcpy(stream, src + done, n); });
}

// Replaces `out` with the sub-list of `iov` covering [from, from+len), clipped to what exists.
// Takes `out` by reference so a hot caller can reuse its capacity (no allocation per request).
inline void SliceInto(const std::vector<iovec>& iov, uint64_t from, uint64_t len, std::vector<iovec>* out) {
  out->clear();
  for (const iovec& v : iov) {
    if (len == 0) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, v.iov_len - from));
    out->push_back(iovec{static_cast<uint8_t*>(v.iov_base) + from, n});
    len -= n;
    from = 0;
  }
}

// preadv/pwritev over all of `iov` (which it consumes) at file `offset`. Returns the bytes moved,
// stopping early at end of file (read) or when nothing is accepted (write); -errno if the very
// first transfer failed (after a partial transfer the partial count is returned, as read(2) does).
inline int64_t TransferAll(std::vector<iovec>* iovp, int fd, int64_t offset, bool write) {
  std::vector<iovec>& iov = *iovp;
  size_t idx = 0;
  int64_t total = 0;
  while (idx < iov.size()) {
    int cnt = static_cast<int>(iov.size() - idx);
    ssize_t n = write ? pwritev(fd, &iov[idx], cnt, offset + total) : preadv(fd, &iov[idx], cnt, offset + total);
    if (n < 0) {
      if (errno == EINTR) continue;
      return total > 0 ? total : -errno;
    }
    if (n == 0) break;
    total += n;
    // Advance past what was transferred; a short transfer leaves a partial segment.
    size_t left = static_cast<size_t>(n);
    while (idx < iov.size() && left >= iov[idx].iov_len) {
      left -= iov[idx].iov_len;
      idx++;
    }
    if (idx < iov.size() && left > 0) {
      iov[idx].iov_base = static_cast<uint8_t*>(iov[idx].iov_base) + left;
      iov[idx].iov_len -= left;
    }
  }
  return total;
}

}  // namespace vfs

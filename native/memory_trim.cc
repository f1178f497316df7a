// Giving back the memory start-up used and serving does not need (src/daemon/idle-trim.ts).
//
// Most of an idle Node daemon's RSS is not its heap but the pages of the node executable (and
// of libc, libstdc++, ...) that start-up touched: ~40 MiB of text and read-only data, of which
// serving uses a few. They are clean file pages, shared with the page cache; dropping our page
// table entries for them (MADV_DONTNEED) costs nothing but a minor fault if one is needed
// again, which is what the kernel's reclaim would do under memory pressure anyway.
//
// Only read-only mappings of the executable and of shared libraries (*.so*) WITHOUT private
// copies are dropped: a private mapping whose pages were written before it became read-only
// (RELRO after relocation: Anonymous > 0 in smaps, or Swap > 0 once those pages were swapped out)
// would lose that content, so such a mapping is
// skipped whole. smaps is opened while /proc is still reachable (before the sandbox hides it)
// and read when the trim runs, so the list is current. Other file mappings (data files, locale
// archives) are left alone.
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <napi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "util.h"

namespace vfs {

namespace {
struct Range {
  uintptr_t start;
  uintptr_t end;
};
// The descriptor of /proc/self/smaps and the executable's path, taken by trimOpen() while /proc
// is reachable; trimIdle() reads the list through it later, inside the sandbox (an open proc
// file stays readable after pivot_root and chroot).
int smapsFd = -1;
char exePath[4096];

// The executable and shared libraries: see the top of this file.
bool CodeFile(const char* path, const char* exe) {
  size_t n = strcspn(path, "\n");
  if (exe[0] != '\0' && strlen(exe) == n && strncmp(path, exe, n) == 0) return true;
  const char* base = static_cast<const char*>(memrchr(path, '/', n));
  base = base ? base + 1 : path;
  // "lib.so" or "lib.so.6" (not "x.sock").
  size_t left = n - static_cast<size_t>(base - path);
  for (const char* at = base; (at = static_cast<const char*>(memmem(at, left - static_cast<size_t>(at - base), ".so", 3))) != nullptr;
       at += 3) {
    size_t after = static_cast<size_t>(at - base) + 3;
    if (after == left || base[after] == '.') return true;
  }
  return false;
}

// The whole of smaps through smapsFd (pread from 0: procfs regenerates it), or false.
bool ReadSmaps(std::string& out) {
  char buf[65536];
  off_t at = 0;
  for (;;) {
    ssize_t n = pread(smapsFd, buf, sizeof(buf), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out.append(buf, static_cast<size_t>(n));
    at += n;
  }
}

// The read-only mappings of the executable and libraries without private copies, from smaps.
std::vector<Range> PlanRanges(const std::string& smaps) {
  std::vector<Range> ranges;
  Range current{0, 0};
  bool candidate = false;
  bool anonymousSeen = false;
  auto finish = [&]() {
    if (candidate && !anonymousSeen) ranges.push_back(current);
    candidate = false;
    anonymousSeen = false;
  };
  size_t at = 0;
  while (at < smaps.size()) {
    size_t nl = smaps.find('\n', at);
    if (nl == std::string::npos) nl = smaps.size();
    std::string line = smaps.substr(at, nl - at);
    at = nl + 1;
    unsigned long start, end;
    char perms[8];
    int path = 0;
    // A mapping header: "start-end perms offset dev inode   path".
    if (sscanf(line.c_str(), "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path) == 3 && line.find('-') < line.find(' ')) {
      finish();
      // The executable and libraries only (no [heap], [stack], anonymous memory, V8's code
      // space, memfds holding guest RAM, devices, data files); nothing writable.
      const char* p = line.c_str() + path;
      candidate = path > 0 && static_cast<size_t>(path) < line.size() && p[0] == '/' && perms[0] == 'r' && perms[1] == '-' &&
                  strstr(p, "(deleted)") == nullptr && CodeFile(p, exePath);
      current = Range{start, end};
      continue;
    }
    unsigned long kb;
    // Private copies in memory (Anonymous) or swapped out (Swap): either way not the file's pages.
    if ((sscanf(line.c_str(), "Anonymous: %lu kB", &kb) == 1 || sscanf(line.c_str(), "Swap: %lu kB", &kb) == 1) && kb > 0) {
      anonymousSeen = true;
    }
  }
  finish();
  return ranges;
}

// trimOpen() → 0, or -errno if /proc/self/smaps cannot be opened. Cheap (no read): start-up
// calls it before the sandbox, and leaves the reading to trimIdle().
Napi::Value TrimOpen(const Napi::CallbackInfo& info) {
  if (smapsFd >= 0) return Napi::Number::New(info.Env(), 0);
  ssize_t len = readlink("/proc/self/exe", exePath, sizeof(exePath) - 1);
  exePath[len > 0 ? len : 0] = '\0';
  smapsFd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  return Napi::Number::New(info.Env(), smapsFd < 0 ? -errno : 0);
}

// trimIdle() → bytes handed back to the kernel's decision: returns the heap's free memory
// (malloc_trim), then drops the pages of the mappings smaps lists (see the top of this file)
// from our page tables. Once: the descriptor is closed afterwards. -errno if smaps cannot be
// read (not opened, or the read failed).
Napi::Value TrimIdle(const Napi::CallbackInfo& info) {
  malloc_trim(0);
  if (smapsFd < 0) return Napi::Number::New(info.Env(), -EBADF);
  std::string smaps;
  bool ok = ReadSmaps(smaps);
  int err = errno;
  close(smapsFd);
  smapsFd = -1;
  if (!ok) return Napi::Number::New(info.Env(), -err);
  double bytes = 0;
  for (const Range& r : PlanRanges(smaps)) {
    if (madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED) == 0) {
      bytes += static_cast<double>(r.end - r.start);
    }
  }
  return Napi::Number::New(info.Env(), bytes);
}
}  // namespace

void InitMemoryTrim(Napi::Env env, Napi::Object exports) {
  exports.Set("trimOpen", Napi::Function::New(env, TrimOpen, "trimOpen"));
  exports.Set("trimIdle", Napi::Function::New(env, TrimIdle, "trimIdle"));
}

}  // namespace vfs

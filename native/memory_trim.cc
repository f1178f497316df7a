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
// (RELRO after relocation, Anonymous > 0 in smaps) would lose that content, so such a mapping is
// skipped whole. The list is taken while /proc is still reachable (before the sandbox hides it)
// and used later; that is safe because nothing unmaps the executable or a loaded library while
// the daemon runs (Node never dlclose()s), so no listed range can be reused for other memory in
// between. Other file mappings (data files, locale archives) are left alone for that reason.
#include <malloc.h>
#include <napi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "util.h"

namespace vfs {

namespace {
struct Range {
  uintptr_t start;
  uintptr_t end;
};
std::vector<Range>* planned = nullptr;

// trimPlanFileMappings() → how many bytes of read-only file mappings can be dropped later;
// -errno if /proc/self/smaps cannot be read.
// The executable and shared libraries: see the top of this file.
bool CodeFile(const char* path, const char* exe) {
  size_t n = strcspn(path, "\n");
  if (exe[0] != '\0' && strlen(exe) == n && strncmp(path, exe, n) == 0) return true;
  const char* base = static_cast<const char*>(memrchr(path, '/', n));
  base = base ? base + 1 : path;
  return memmem(base, n - static_cast<size_t>(base - path), ".so", 3) != nullptr;
}

Napi::Value TrimPlan(const Napi::CallbackInfo& info) {
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[len > 0 ? len : 0] = '\0';
  FILE* f = fopen("/proc/self/smaps", "re");
  if (!f) return Napi::Number::New(info.Env(), -errno);
  auto* ranges = new std::vector<Range>();
  char line[4096];
  Range current{0, 0};
  bool candidate = false;
  double bytes = 0;
  auto finish = [&](bool keep) {
    if (candidate && keep) {
      ranges->push_back(current);
      bytes += static_cast<double>(current.end - current.start);
    }
    candidate = false;
  };
  bool anonymousSeen = false;
  while (fgets(line, sizeof(line), f)) {
    unsigned long start, end;
    char perms[8];
    int path = 0;
    // A mapping header: "start-end perms offset dev inode   path".
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path) == 3 && strchr(line, '-') < strchr(line, ' ')) {
      finish(!anonymousSeen);
      anonymousSeen = false;
      // The executable and libraries only (no [heap], [stack], anonymous memory, V8's code
      // space, memfds holding guest RAM, devices, data files); nothing writable.
      candidate = path > 0 && line[path] == '/' && perms[0] == 'r' && perms[1] == '-' && strstr(line + path, "(deleted)") == nullptr &&
                  CodeFile(line + path, exe);
      current = Range{start, end};
      continue;
    }
    unsigned long kb;
    if (sscanf(line, "Anonymous: %lu kB", &kb) == 1 && kb > 0) anonymousSeen = true;
  }
  finish(!anonymousSeen);
  fclose(f);
  delete planned;
  planned = ranges;
  return Napi::Number::New(info.Env(), bytes);
}

// trimIdle() → bytes handed back to the kernel's decision (the planned ranges' size): returns
// the heap's free memory (malloc_trim) and drops the planned file pages from our page tables.
Napi::Value TrimIdle(const Napi::CallbackInfo& info) {
  malloc_trim(0);
  double bytes = 0;
  if (planned) {
    for (const Range& r : *planned) {
      if (madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED) == 0) {
        bytes += static_cast<double>(r.end - r.start);
      }
    }
  }
  return Napi::Number::New(info.Env(), bytes);
}
}  // namespace

void InitMemoryTrim(Napi::Env env, Napi::Object exports) {
  exports.Set("trimPlanFileMappings", Napi::Function::New(env, TrimPlan, "trimPlanFileMappings"));
  exports.Set("trimIdle", Napi::Function::New(env, TrimIdle, "trimIdle"));
}

}  // namespace vfs

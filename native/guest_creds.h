// The guest's credentials, applied to the calling thread for one system call that creates or
// checks something on the guest's behalf (CREATE, MKNOD, MKDIR, SYMLINK, TMPFILE, ACCESS).
//
// Linux keeps fsuid, fsgid and supplementary groups per thread when they are changed with the
// raw system calls, so a pool thread can take the guest's identity
// for one call without affecting the others:
// - fsuid/fsgid: the guest's (already translated) uid/gid. Leaving fsuid 0 also drops CAP_CHOWN,
//   CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_MKNOD ... from the effective set, so the host
//   kernel applies exactly the permission, SGID-inheritance and SGID-stripping rules it would
//   apply to that user.
// - supplementary groups: replaced by [] or by the one group the guest sent in the
//   FUSE_EXT_GROUPS extension. The daemon's own groups must never count (CVE-2022-0358: they
//   made the kernel keep S_ISGID on files created in a directory of one of those groups).
//   SYS_setgroups is per thread (glibc's setgroups() broadcasts to all threads; we must not).
// Everything is restored before the job completes.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace vfs {

struct GuestCreds {
  bool set = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool hasSupp = false;
  uint32_t supp = 0;  // the one supplementary group (FUSE_EXT_GROUPS), when hasSupp
};

namespace guest_creds_detail {

// The thread's own supplementary groups, captured before we first change them.
struct ThreadGroups {
  bool captured = false;
  std::vector<gid_t> groups;
};

inline ThreadGroups& Original() {
  thread_local ThreadGroups g;
  if (!g.captured) {
    long n = syscall(SYS_getgroups, 0, nullptr);
    if (n > 0) {
      g.groups.resize(static_cast<size_t>(n));
      n = syscall(SYS_getgroups, n, g.groups.data());
      if (n < 0) n = 0;
      g.groups.resize(static_cast<size_t>(n));
    }
    g.captured = true;
  }
  return g;
}

}  // namespace guest_creds_detail

// Applies `c` to this thread for the lifetime of the object. `failed()` is an errno when the
// identity could not be taken completely (the call must then not run).
class ScopedGuestCreds {
 public:
  explicit ScopedGuestCreds(const GuestCreds& c) : c_(c) {
    if (!c_.set) return;
    using namespace guest_creds_detail;
    Original();  // capture before the first change
    gid_t groups[1] = {static_cast<gid_t>(c_.supp)};
    if (syscall(SYS_setgroups, c_.hasSupp ? 1 : 0, c_.hasSupp ? groups : nullptr) != 0) {
      err_ = errno;
      return;
    }
    groupsChanged_ = true;
    // setfsuid/setfsgid return the previous value; they cannot report failure directly, so
    // read back what is in force.
    prevGid_ = static_cast<uint32_t>(syscall(SYS_setfsgid, c_.gid));
    prevUid_ = static_cast<uint32_t>(syscall(SYS_setfsuid, c_.uid));
    idsChanged_ = true;
    if (static_cast<uint32_t>(syscall(SYS_setfsgid, -1)) != c_.gid || static_cast<uint32_t>(syscall(SYS_setfsuid, -1)) != c_.uid) {
      err_ = EPERM;
    }
  }

  ~ScopedGuestCreds() {
    if (idsChanged_) {
      syscall(SYS_setfsuid, prevUid_);
      syscall(SYS_setfsgid, prevGid_);
    }
    if (groupsChanged_) {
      auto& g = guest_creds_detail::Original();
      syscall(SYS_setgroups, g.groups.size(), g.groups.empty() ? nullptr : g.groups.data());
    }
  }

  ScopedGuestCreds(const ScopedGuestCreds&) = delete;
  ScopedGuestCreds& operator=(const ScopedGuestCreds&) = delete;

  int failed() const { return err_; }

 private:
  GuestCreds c_;
  int err_ = 0;
  bool groupsChanged_ = false;
  bool idsChanged_ = false;
  uint32_t prevUid_ = 0;
  uint32_t prevGid_ = 0;
};

}  // namespace vfs

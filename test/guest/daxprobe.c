/* A tiny static helper for the DAX guest test (busybox cannot show statx attributes):
 *   daxprobe PATH...   prints "PATH dax" or "PATH nodax" per path (STATX_ATTR_DAX: the kernel
 *                      accesses the inode through the DAX window); exit 1 if a statx fails. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

int main(int argc, char **argv) {
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    struct statx st;
    if (statx(AT_FDCWD, argv[i], 0, STATX_BASIC_STATS, &st) != 0) {
      perror(argv[i]);
      rc = 1;
      continue;
    }
    int known = (st.stx_attributes_mask & STATX_ATTR_DAX) != 0;
    printf("%s %s\n", argv[i], !known ? "unknown" : (st.stx_attributes & STATX_ATTR_DAX) ? "dax" : "nodax");
  }
  return rc;
}

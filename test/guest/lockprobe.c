/* A tiny static helper for guest lock tests (busybox has no flock or fcntl-lock applet):
 *   lockprobe hold FILE SECONDS flock|fcntl   take an exclusive lock, hold it, release
 *   lockprobe try FILE flock|fcntl            exit 0 if an exclusive lock is free, 1 if held */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int lock(int fd, int use_flock, int wait) {
  if (use_flock) return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int hold = strcmp(argv[1], "hold") == 0;
  int use_flock = strcmp(argv[hold ? 4 : 3], "flock") == 0;
  int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
  if (fd < 0) return 2;
  if (lock(fd, use_flock, hold) < 0) return 1;
  if (hold) sleep((unsigned)atoi(argv[3]));
  return 0;
}

/* A tiny static helper for guest lock tests (busybox has no flock or fcntl-lock applet):
 *   lockprobe hold FILE flock|fcntl   take an exclusive lock, create FILE.held, keep the lock
 *                                     until FILE.release exists, release
 *   lockprobe try FILE flock|fcntl    exit 0 if an exclusive lock is free, 1 if held
 *   lockprobe await PATH              wait (up to 120 s) until PATH exists
 * The holder says when it holds and is told when to let go: the guest script never sleeps and
 * assumes the holder got its lock, nor races a holder's fixed deadline (a TCG guest on a loaded
 * host can be slow by whole seconds). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int lock(int fd, int use_flock, int wait) {
  if (use_flock) return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

/* Polls every 20 ms; 0 once `path` exists, 1 after 120 s. */
static int await_path(const char *path) {
  for (int i = 0; i < 6000; i++) {
    if (access(path, F_OK) == 0) return 0;
    usleep(20000);
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "await") == 0) return await_path(argv[2]);
  if (argc < 4) return 2;
  int hold = strcmp(argv[1], "hold") == 0;
  int use_flock = strcmp(argv[3], "flock") == 0;
  int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
  if (fd < 0) return 2;
  if (lock(fd, use_flock, hold) < 0) return 1;
  if (!hold) return 0;
  char held[4096], release[4096];
  snprintf(held, sizeof held, "%s.held", argv[2]);
  snprintf(release, sizeof release, "%s.release", argv[2]);
  int h = open(held, O_WRONLY | O_CREAT, 0644);
  if (h < 0) return 2;
  close(h);
  return await_path(release) == 0 ? 0 : 3;
}

/*
 * hostio: the physical limit for `vufs load`'s access patterns — the same requests made with
 * plain system calls on a host directory (no daemon, no virtqueue), by THREADS threads for
 * SECONDS seconds. Also used for the host-mount comparison (run it on a FUSE mount).
 *
 *   hostio DIR WORKLOAD THREADS SECONDS      -> one JSON object on stdout
 *
 * It expects the files `vufs load --share DIR` prepares (bench/run.mjs creates them):
 *   randread4k / randwrite4k  pread/pwrite 4 KiB at random 4 KiB-aligned offsets of vufs-data.bin
 *   seqread1m / seqwrite1m    pread/pwrite 1 MiB sequentially (one shared offset, wrapping)
 *   lookup                    fstatat(AT_SYMLINK_NOFOLLOW) of a random vufs-lookup/fNNNNNN
 *                             (one request = one stat: vufs's LOOKUP and GETATTR are each one)
 *   create                    openat(O_CREAT|O_EXCL) + close + unlinkat of a per-thread name
 *                             in vufs-create/ (3 requests, like CREATE + RELEASE + UNLINK)
 *   readdir                   getdents64 into a 4 KiB buffer over vufs-readdir/ (10 000 entries),
 *                             rewinding at the end (one request = one getdents64)
 *
 * Build: gcc -O2 -pthread -o hostio hostio.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS (64 * 16)

static const char *dir;
static const char *workload;
static int nthreads;
static double seconds;
static int dirfd_root;
static int data_fd = -1;
static off_t data_size;
static int lookup_dfd = -1, create_dfd = -1, readdir_path_ok;
static atomic_int stop;
static atomic_llong seq_off;

struct thr {
  pthread_t t;
  int id;
  uint64_t ops, bytes, errors;
  uint64_t hist[NBUCKETS];
};

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* log-linear histogram: 16 sub-buckets per power of two (< 6.25 % error) */
static inline int bucket(uint64_t ns) {
  if (ns < 16) return (int)ns;
  int lg = 63 - __builtin_clzll(ns);
  int sub = (int)((ns >> (lg - 4)) & 15);
  return (lg - 3) * 16 + sub;
}
static inline double bucket_mid(int b) {
  if (b < 16) return b;
  int lg = b / 16 + 3, sub = b % 16;
  double lo = (double)(1ull << lg) * (1.0 + sub / 16.0);
  return lo * (1.0 + 1.0 / 32.0);
}

static inline uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static void *run(void *arg) {
  struct thr *th = arg;
  uint64_t rng = 0x9E3779B97F4A7C15ull * (th->id + 1);
  size_t bs = strstr(workload, "1m") ? (1 << 20) : 4096;
  char *buf = aligned_alloc(4096, bs);
  memset(buf, 0xa5, bs);
  char name[64];
  int rfd = -1;
  if (!strcmp(workload, "readdir")) {
    rfd = openat(dirfd_root, "vufs-readdir", O_RDONLY | O_DIRECTORY);
    if (rfd < 0) { perror("open vufs-readdir"); exit(1); }
  }
  uint64_t blocks = data_size / 4096;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    uint64_t t0 = now_ns();
    int n = 1;
    ssize_t r = 0;
    if (!strcmp(workload, "randread4k")) {
      r = pread(data_fd, buf, 4096, (off_t)(xorshift(&rng) % blocks) * 4096);
      if (r > 0) th->bytes += r;
    } else if (!strcmp(workload, "randwrite4k")) {
      r = pwrite(data_fd, buf, 4096, (off_t)(xorshift(&rng) % blocks) * 4096);
      if (r > 0) th->bytes += r;
    } else if (!strcmp(workload, "seqread1m") || !strcmp(workload, "seqwrite1m")) {
      long long off = atomic_fetch_add(&seq_off, (long long)bs) % (data_size - (data_size % bs));
      r = workload[3] == 'r' ? pread(data_fd, buf, bs, off) : pwrite(data_fd, buf, bs, off);
      if (r > 0) th->bytes += r;
    } else if (!strcmp(workload, "lookup")) {
      struct stat st;
      snprintf(name, sizeof name, "f%06u", (unsigned)(xorshift(&rng) % 1000));
      r = fstatat(lookup_dfd, name, &st, AT_SYMLINK_NOFOLLOW);
    } else if (!strcmp(workload, "create")) {
      snprintf(name, sizeof name, "h%05d", th->id);
      int fd = openat(create_dfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
      if (fd < 0) { r = -1; unlinkat(create_dfd, name, 0); }
      else { close(fd); r = unlinkat(create_dfd, name, 0); }
      n = 3;
    } else if (!strcmp(workload, "readdir")) {
      r = syscall(SYS_getdents64, rfd, buf, 4096);
      if (r == 0) { lseek(rfd, 0, SEEK_SET); continue; }
      if (r > 0) th->bytes += r;
    } else {
      fprintf(stderr, "hostio: unknown workload %s\n", workload);
      exit(2);
    }
    uint64_t dt = now_ns() - t0;
    if (r < 0) th->errors++;
    th->ops += n;
    th->hist[bucket(dt / n)] += n;
  }
  if (rfd >= 0) close(rfd);
  free(buf);
  return NULL;
}

static double pct(uint64_t *h, uint64_t total, double p) {
  uint64_t want = (uint64_t)ceil(total * p), acc = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    acc += h[b];
    if (acc >= want && h[b]) return bucket_mid(b) / 1000.0;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: hostio DIR WORKLOAD THREADS SECONDS\n");
    return 2;
  }
  dir = argv[1];
  workload = argv[2];
  nthreads = atoi(argv[3]);
  seconds = atof(argv[4]);
  if (nthreads < 1) nthreads = 1;
  dirfd_root = open(dir, O_RDONLY | O_DIRECTORY);
  if (dirfd_root < 0) { perror(dir); return 1; }
  if (strstr(workload, "4k") || strstr(workload, "1m")) {
    data_fd = openat(dirfd_root, "vufs-data.bin", O_RDWR);
    if (data_fd < 0) { perror("vufs-data.bin"); return 1; }
    struct stat st;
    fstat(data_fd, &st);
    data_size = st.st_size;
    if (data_size < (1 << 20)) { fprintf(stderr, "hostio: vufs-data.bin too small\n"); return 1; }
  }
  if (!strcmp(workload, "lookup")) {
    lookup_dfd = openat(dirfd_root, "vufs-lookup", O_RDONLY | O_DIRECTORY);
    if (lookup_dfd < 0) { perror("vufs-lookup"); return 1; }
  }
  if (!strcmp(workload, "create")) {
    mkdirat(dirfd_root, "vufs-create", 0755);
    create_dfd = openat(dirfd_root, "vufs-create", O_RDONLY | O_DIRECTORY);
    if (create_dfd < 0) { perror("vufs-create"); return 1; }
  }
  (void)readdir_path_ok;
  struct thr *th = calloc(nthreads, sizeof *th);
  /* short warm-up, not measured */
  for (int phase = 0; phase < 2; phase++) {
    double len = phase == 0 ? fmin(0.3, seconds / 10) : seconds;
    atomic_store(&stop, 0);
    for (int i = 0; i < nthreads; i++) {
      memset(&th[i], 0, sizeof th[i]);
      th[i].id = i;
      pthread_create(&th[i].t, NULL, run, &th[i]);
    }
    uint64_t t0 = now_ns();
    struct timespec ts = { (time_t)len, (long)((len - (time_t)len) * 1e9) };
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i].t, NULL);
    double el = (now_ns() - t0) / 1e9;
    if (phase == 0) continue;
    uint64_t ops = 0, bytes = 0, errors = 0;
    static uint64_t h[NBUCKETS];
    for (int i = 0; i < nthreads; i++) {
      ops += th[i].ops;
      bytes += th[i].bytes;
      errors += th[i].errors;
      for (int b = 0; b < NBUCKETS; b++) h[b] += th[i].hist[b];
    }
    printf("{\"workload\":\"%s\",\"threads\":%d,\"seconds\":%.3f,\"requests\":%llu,\"ops_per_s\":%.0f,"
           "\"mb_per_s\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"errors\":%llu}\n",
           workload, nthreads, el, (unsigned long long)ops, ops / el, bytes / el / 1e6, pct(h, ops, 0.5),
           pct(h, ops, 0.99), (unsigned long long)errors);
  }
  return 0;
}

// Load generator for the FUSE benchmark (bench/fuse.ts). Compiled at bench time with gcc so the
// load side costs the same for both file systems and adds no runtime of its own.
//
// Usage: loadgen MODE PATH SECONDS [THREADS]
//   dread4k   4 KiB O_DIRECT preads, sequential offsets wrapping at the file's end
//   stat      statx(AT_STATX_FORCE_SYNC) of PATH: every call reaches the file system (GETATTR)
//             whatever its attribute timeout
//   dread1m   1 MiB O_DIRECT preads, sequential offsets wrapping
//   bread1m   buffered 1 MiB reads of the whole file: open, read to EOF, posix_fadvise(DONTNEED),
//             close, again. The file systems open without keep_cache, so every pass reads
//             through FUSE, not the page cache.
// Each thread runs a short warm-up (0.2 s), then counts for SECONDS. Prints one line:
//   ops=<n> bytes=<n> secs=<elapsed>
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *mode;
static const char *path;
static double seconds;
static volatile int go;

struct result { uint64_t ops, bytes; };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "loadgen %s %s: %s: %s\n", mode, path, what, strerror(errno));
  exit(1);
}

static off_t file_size(void) {
  struct stat st;
  if (stat(path, &st) != 0) die("stat");
  return st.st_size;
}

// Runs op() until `end`; returns ops and bytes. `op` returns bytes moved, or -1 on error.
static void *worker(void *arg) {
  struct result *r = arg;
  off_t size = file_size();
  size_t bs = strcmp(mode, "dread4k") == 0 ? 4096 : 1 << 20;
  int direct = strncmp(mode, "dread", 5) == 0;
  int is_stat = strcmp(mode, "stat") == 0;
  int buffered = strcmp(mode, "bread1m") == 0;
  char *buf;
  if (posix_memalign((void **)&buf, 4096, bs) != 0) die("posix_memalign");
  int fd = -1;
  if (direct) {
    fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0) die("open O_DIRECT");
  }
  if (size < (off_t)bs && !is_stat) { errno = EINVAL; die("file smaller than the block size"); }
  off_t off = 0;
  for (int phase = 0; phase < 2; phase++) {
    double end = now() + (phase == 0 ? 0.2 : seconds);
    uint64_t ops = 0, bytes = 0;
    while (now() < end) {
      if (is_stat) {
        struct statx stx;
        if (statx(AT_FDCWD, path, AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &stx) != 0) die("statx");
        ops++;
      } else if (direct) {
        if (off + (off_t)bs > size) off = 0;
        ssize_t n = pread(fd, buf, bs, off);
        if (n != (ssize_t)bs) { if (n >= 0) errno = EIO; die("pread O_DIRECT"); }
        off += bs;
        ops++;
        bytes += n;
      } else if (buffered) {
        if (fd < 0) {
          fd = open(path, O_RDONLY);
          if (fd < 0) die("open");
        }
        ssize_t n = read(fd, buf, bs);
        if (n < 0) die("read");
        if (n == 0) {
          posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
          close(fd);
          fd = -1;
          continue;
        }
        ops++;
        bytes += n;
      }
    }
    r->ops = ops;
    r->bytes = bytes;
  }
  if (fd >= 0) close(fd);
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: loadgen dread4k|stat|dread1m|bread1m PATH SECONDS [THREADS]\n");
    return 2;
  }
  mode = argv[1];
  path = argv[2];
  seconds = atof(argv[3]);
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  if (strcmp(mode, "dread4k") && strcmp(mode, "stat") && strcmp(mode, "dread1m") && strcmp(mode, "bread1m")) {
    fprintf(stderr, "loadgen: unknown mode %s\n", mode);
    return 2;
  }
  if (!(seconds > 0) || threads < 1 || threads > 64) {
    fprintf(stderr, "loadgen: bad SECONDS or THREADS\n");
    return 2;
  }
  pthread_t tid[64];
  struct result res[64];
  memset(res, 0, sizeof res);
  double t0 = now();
  for (int i = 0; i < threads; i++) pthread_create(&tid[i], NULL, worker, &res[i]);
  uint64_t ops = 0, bytes = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    ops += res[i].ops;
    bytes += res[i].bytes;
  }
  (void)t0;
  printf("ops=%llu bytes=%llu secs=%.3f\n", (unsigned long long)ops, (unsigned long long)bytes, seconds);
  return 0;
}

/* SPDX-License-Identifier: MIT */
/* The disk store against hostile conditions: many processes on one
 * directory, writers killed mid-write, temp files of dead and live
 * writers.  The byte bound is the directory's, not each process's. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"
#include "store/store.h"
#include "fixtures.h"

#define DISK (&hr_store_disk_ops)

/* ---- helpers ---------------------------------------------------------- */

static char *make_tmpdir(void) {
  char tmpl[] = "/tmp/hrhostile-XXXXXX";
  cr_assert_not_null(mkdtemp(tmpl));
  return strdup(tmpl);
}

static int is_temp(const char *name) {
  return strncmp(name, ".hrtmp-", 7) == 0;
}

static int is_entry(const char *name) {
  size_t l = strlen(name);
  return l > 4 && strcmp(name + l - 4, ".hrc") == 0;
}

/* What the bound covers, as the directory holds it now: entry files and
 * temp files.  `temps` (may be NULL) gets the number of temp files. */
static size_t dir_bytes(const char *dir, size_t *temps) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  size_t total = 0, nt = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    if (!is_temp(de->d_name) && !is_entry(de->d_name))
      continue;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
      total += (size_t)st.st_size;
      nt += is_temp(de->d_name);
    }
  }
  closedir(d);
  if (temps)
    *temps = nt;
  return total;
}

static size_t entry_bytes(const char *dir) {
  size_t temps, all = dir_bytes(dir, &temps);
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    struct stat st;
    if (is_temp(de->d_name) &&
        fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      all -= (size_t)st.st_size;
  }
  closedir(d);
  return all;
}

/* Sets the mtime of every temp file in `dir` `ago` seconds back. */
static void age_temps(const char *dir, time_t ago) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  struct dirent *de;
  time_t when = time(NULL) - ago;
  struct timespec ts[2] = {{when, 0}, {when, 0}};
  while ((de = readdir(d)) != NULL)
    if (is_temp(de->d_name))
      utimensat(dirfd(d), de->d_name, ts, AT_SYMLINK_NOFOLLOW);
  closedir(d);
}

static uint64_t rng_next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static char *filler(size_t len, uint64_t seed) {
  char *d = malloc(len ? len : 1);
  cr_assert_not_null(d);
  for (size_t i = 0; i < len; i++)
    d[i] = (char)rng_next(&seed);
  return d;
}

/* ---- several processes, one bound ------------------------------------ */

#define NPROC 8
#define DATA_MIN 4000u
#define DATA_SPAN 12000u
/* The largest file a worker writes: header, key, data. */
#define ENTRY_MAX (32u + 32u + DATA_MIN + DATA_SPAN)

typedef struct report {
  int id;
  int err; /* 0, or what went wrong (a put error, a store that would not open)
            */
  size_t peak; /* the largest directory size this worker saw */
} report;

/* Puts entries of 4-16 KB, looking at the directory after each. */
static void bound_worker(const char *dir, int id, size_t max, int wfd) {
  report r = {id, 0, 0};
  void *s;
  if (hr_store_disk_new(&s, dir, max, 0) != 0) {
    r.err = -1;
  } else {
    uint64_t x = (uint64_t)id * 7919 + 3;
    for (int i = 0; i < 80 && !r.err; i++) {
      char key[64];
      uint64_t v = rng_next(&x);
      snprintf(key, sizeof(key), "http://p%d/%d", id, (int)(v % 40));
      size_t len = DATA_MIN + (size_t)(v >> 8) % DATA_SPAN;
      char *d = filler(len, v);
      int rc = DISK->put(s, key, d, len);
      free(d);
      /* INVALID_ARG: no room while the other writers' files fill the bound
       * (an answer not kept), which is allowed; anything else is not. */
      if (rc != 0 && rc != HTTPRESP_E_INVALID_ARG)
        r.err = rc;
      size_t now = dir_bytes(dir, NULL);
      if (now > r.peak)
        r.peak = now;
    }
    DISK->destroy(s);
  }
  if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
    _exit(3);
}

Test(hostile_disk, processes_share_one_bound) {
  char *dir = make_tmpdir();
  /* Small next to what 8 writers put, so that all of them evict. */
  const size_t max = 96u << 10;
  int p[2];
  cr_assert(pipe(p) == 0);
  pid_t pids[NPROC];
  for (int i = 0; i < NPROC; i++) {
    pids[i] = fork();
    cr_assert(pids[i] >= 0);
    if (pids[i] == 0) {
      close(p[0]);
      bound_worker(dir, i, max, p[1]);
      _exit(0);
    }
  }
  close(p[1]);
  size_t peak = 0;
  for (int i = 0; i < NPROC; i++) {
    report r;
    cr_assert_eq(read(p[0], &r, sizeof(r)), (ssize_t)sizeof(r));
    cr_expect_eq(r.err, 0, "worker %d: error %d", r.id, r.err);
    if (r.peak > peak)
      peak = r.peak;
  }
  close(p[0]);
  for (int i = 0; i < NPROC; i++) {
    int st;
    cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  /* A look at the directory while others rename may see one file twice
   * (as a temp file, then under its name): one entry of slack. */
  cr_expect_leq(peak, max + ENTRY_MAX, "peak %zu for a bound of %zu", peak,
                max);
  cr_expect_leq(dir_bytes(dir, NULL), max);
  /* The shared total is the directory's. */
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, max, 0) == 0);
  cr_expect_eq(hr_store_disk_bytes(s), entry_bytes(dir));
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* The same through the public API: processes with their own client and
 * httpresp_cache_new_disk() on one directory, fetching from the loopback
 * server answers that are stored on every fetch (max-age=0). */
#define API_PROCS 4
#define API_PATHS 12
#define API_REQS 30

static char *api_body(int i) {
  size_t n = 12000 + (size_t)i * 331;
  char *b = malloc(n + 1);
  cr_assert_not_null(b);
  for (size_t k = 0; k < n; k++)
    b[k] = (char)('a' + (k * 7 + (size_t)i) % 26);
  b[n] = '\0';
  return b;
}

static void api_worker(ts_server *ts, const char *dir, size_t max, int id,
                       int wfd) {
  report r = {id, 0, 0};
  httpresp_cache *cache = NULL;
  httpresp_client *client = NULL;
  CURL *easy = fixture_easy();
  if (httpresp_cache_new_disk(&cache, dir, max) != 0 ||
      httpresp_client_new(&client) != 0 ||
      httpresp_client_set_cache(client, cache) != 0)
    r.err = -1;
  uint64_t x = (uint64_t)id * 31 + 7;
  for (int n = 0; n < API_REQS && !r.err; n++) {
    int i = (int)(rng_next(&x) % API_PATHS);
    char path[32];
    snprintf(path, sizeof(path), "/b/%d", i);
    char *url = ts_url(ts, 0, path);
    httpresp_request *req = NULL;
    httpresp_response *resp = NULL;
    int rc = httpresp_request_new(&req, "GET", url);
    if (!rc)
      rc = httpresp_perform(client, easy, req, &resp);
    char *want = api_body(i);
    size_t len = 0;
    const char *got = rc ? NULL : httpresp_response_body(resp, &len);
    if (rc || httpresp_response_status(resp) != 200)
      r.err = rc ? rc : -2;
    else if (len != strlen(want) || memcmp(got, want, len) != 0)
      r.err = -3; /* a wrong or damaged body */
    else if (httpresp_response_cache_status(resp) != HTTPRESP_CACHE_STORED &&
             httpresp_response_cache_status(resp) != HTTPRESP_CACHE_UPDATED &&
             httpresp_response_cache_status(resp) != HTTPRESP_CACHE_MISS)
      r.err = -4; /* max-age=0: never a hit */
    free(want);
    free(url);
    httpresp_response_free(resp);
    httpresp_request_free(req);
    size_t now = dir_bytes(dir, NULL);
    if (now > r.peak)
      r.peak = now;
  }
  httpresp_client_free(client);
  httpresp_cache_free(cache);
  curl_easy_cleanup(easy);
  if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
    _exit(3);
}

Test(hostile_disk, processes_share_one_bound_through_the_api) {
  char *dir = make_tmpdir();
  const size_t max = 64u << 10;
  ts_server *ts = ts_start(1);
  cr_assert_not_null(ts);
  size_t largest = 0;
  for (int i = 0; i < API_PATHS; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/b/%d", i);
    char *b = api_body(i);
    if (strlen(b) > largest)
      largest = strlen(b);
    ts_simple(ts, 0, path, 200, "Cache-Control: max-age=0\r\n", b);
    free(b);
  }
  int p[2];
  cr_assert(pipe(p) == 0);
  pid_t pids[API_PROCS];
  for (int i = 0; i < API_PROCS; i++) {
    pids[i] = fork();
    cr_assert(pids[i] >= 0);
    if (pids[i] == 0) {
      close(p[0]);
      alarm(60);
      api_worker(ts, dir, max, i, p[1]);
      _exit(0);
    }
  }
  close(p[1]);
  size_t peak = 0;
  for (int i = 0; i < API_PROCS; i++) {
    report r;
    cr_assert_eq(read(p[0], &r, sizeof(r)), (ssize_t)sizeof(r));
    cr_expect_eq(r.err, 0, "worker %d: error %d", r.id, r.err);
    if (r.peak > peak)
      peak = r.peak;
  }
  close(p[0]);
  for (int i = 0; i < API_PROCS; i++)
    waitpid(pids[i], NULL, 0);
  /* Every request reached the server (nothing was fresh), */
  cr_expect_eq(ts_request_count(ts), (size_t)API_PROCS * API_REQS);
  /* and the directory held the bound, give or take one entry: an entry
   * is the body plus the URL, the fields and the codec's framing. */
  cr_expect_leq(peak, max + largest + 1024, "peak %zu for a bound of %zu",
                peak, max);
  ts_stop(ts);
  fixture_rm_rf(dir);
  free(dir);
}

/* ---- temp files ------------------------------------------------------- */

/* A writer in another process, stopped in the middle of a write: it holds
 * a temp file of `size` bytes and its lock, as a put does, until killed. */
static pid_t live_writer(const char *dir, size_t size) {
  int p[2];
  cr_assert(pipe(p) == 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    alarm(30); /* should the test stop before it kills this process */
    char path[4096];
    snprintf(path, sizeof(path), "%s/.hrtmp-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || flock(fd, LOCK_EX) != 0)
      _exit(2);
    char c = 'r';
    if (write(p[1], &c, 1) != 1)
      _exit(3);
    for (;;)
      pause();
  }
  close(p[1]);
  char c;
  cr_assert_eq(read(p[0], &c, 1), 1, "the writer did not start");
  close(p[0]);
  return pid;
}

static void kill_wait(pid_t pid) {
  kill(pid, SIGKILL);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
}

Test(hostile_disk, temp_files_count_toward_the_bound) {
  char *dir = make_tmpdir();
  const size_t max = 64u << 10;
  pid_t w = live_writer(dir, 40u << 10);
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, max, 0) == 0);
  char *d = filler(4000, 1);
  char key[32];
  size_t temps, now;
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    cr_expect_eq(DISK->put(s, key, d, 4000), 0);
    now = dir_bytes(dir, &temps);
    cr_expect_eq(temps, 1u);
    if (now > max) {
      cr_expect_leq(now, max, "put %d: %zu bytes with the temp file", i, now);
      break;
    }
  }
  /* A live writer's temp file stays, old or not (up to a minute). */
  age_temps(dir, 10);
  cr_expect(hr_store_disk_scan(s, 60) == 0);
  dir_bytes(dir, &temps);
  cr_expect_eq(temps, 1u, "a live writer's temp file was removed");
  /* Once its writer is dead, it goes at the next scan a put needs. */
  kill_wait(w);
  age_temps(dir, 3);
  for (int i = 20; i < 40; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    cr_assert_eq(DISK->put(s, key, d, 4000), 0);
    cr_assert_leq(dir_bytes(dir, NULL), max);
  }
  now = dir_bytes(dir, &temps);
  cr_expect_eq(temps, 0u, "the dead writer's temp file is still there");
  /* and the room it held is the entries' again. */
  cr_expect_gt(now, (40u << 10));
  cr_expect_eq(hr_store_disk_bytes(s), entry_bytes(dir));
  free(d);
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* When live writers' temp files hold the room a put needs, the put is
 * refused rather than going over the bound, and the answer it would have
 * replaced goes too: it is older than one the cache was given. */
Test(hostile_disk, no_room_left_by_live_writers) {
  char *dir = make_tmpdir();
  const size_t max = 64u << 10;
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, max, 0) == 0);
  char *d = filler(8000, 2);
  cr_assert_eq(DISK->put(s, "k", d, 8000), 0);
  /* Its reservation counted, as a writer of this version makes it. */
  pid_t w = live_writer(dir, 60u << 10);
  cr_expect(hr_store_disk_scan(s, 60) == 0);
  int rc = DISK->put(s, "k", d, 8000);
  size_t now = dir_bytes(dir, NULL);
  void *got = NULL;
  size_t len;
  int grc = DISK->get(s, "k", &got, &len);
  free(got);
  kill_wait(w);
  cr_expect_eq(rc, HTTPRESP_E_INVALID_ARG);
  cr_expect_leq(now, max);
  cr_expect_eq(grc, 1, "the superseded entry is still served");
  free(d);
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* Writers killed at random points, over and over: the bound holds
 * throughout, their temp files go once they are seen to be dead, and the
 * shared total is exact again after a scan. */
Test(hostile_disk, writers_killed_at_any_point) {
  char *dir = make_tmpdir();
  const size_t max = 256u << 10;
  const size_t big = 48u << 10;
  uint64_t x = 99;
  size_t peak = 0;
  for (int round = 0; round < 12; round++) {
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
      pids[i] = fork();
      cr_assert(pids[i] >= 0);
      if (pids[i] == 0) {
        alarm(30); /* should the test stop before it kills this process */
        void *cs;
        if (hr_store_disk_new(&cs, dir, max, 0) != 0)
          _exit(2);
        char *d = filler(big, (uint64_t)i + 1);
        for (unsigned n = 0;; n++) {
          char key[32];
          snprintf(key, sizeof(key), "w%d/%u", i, n % 16);
          DISK->put(cs, key, d, big - n % 1000);
        }
      }
    }
    for (int k = 0; k < 3; k++) {
      struct timespec ts = {0, (long)(rng_next(&x) % 15000000)};
      nanosleep(&ts, NULL);
      size_t now = dir_bytes(dir, NULL);
      if (now > peak)
        peak = now;
      kill_wait(pids[k]);
    }
  }
  cr_expect_leq(peak, max + big + 64, "peak %zu for a bound of %zu", peak, max);
  /* Whatever the kills left: temp files with no writer, a total that may
   * be too high.  A scan (any put that needs room) clears both. */
  age_temps(dir, 3);
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, max, 0) == 0);
  size_t temps;
  size_t now = dir_bytes(dir, &temps);
  cr_expect_eq(temps, 0u, "%zu temp files of dead writers left", temps);
  cr_expect_leq(now, max);
  cr_expect_eq(hr_store_disk_bytes(s), entry_bytes(dir));
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* ---- the lock --------------------------------------------------------- */

typedef struct put_job {
  void *s;
  volatile int done;
} put_job;

static void *put_thread(void *arg) {
  put_job *j = arg;
  DISK->put(j->s, "http://h/new", "new", 3);
  j->done = 1;
  return NULL;
}

static int hit(void *s, const char *key) {
  void *d = NULL;
  size_t len;
  int rc = DISK->get(s, key, &d, &len);
  free(d);
  return rc == 0;
}

/* Writers take turns on the directory's lock; readers never wait for it. */
Test(hostile_disk, writers_lock_readers_do_not) {
  char *dir = make_tmpdir();
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, 1u << 20, 0) == 0);
  cr_assert_eq(DISK->put(s, "http://h/old", "old", 3), 0);
  char path[4096];
  snprintf(path, sizeof(path), "%s/.hrstate", dir);
  int fd = open(path, O_RDWR);
  cr_assert(fd >= 0, "no state file: %s", strerror(errno));
  cr_assert(flock(fd, LOCK_EX) == 0);
  put_job j = {s, 0};
  pthread_t t;
  cr_assert(pthread_create(&t, NULL, put_thread, &j) == 0);
  struct timespec ts = {0, 200 * 1000000L};
  nanosleep(&ts, NULL);
  cr_expect_not(j.done, "a put went ahead without the directory's lock");
  cr_expect(hit(s, "http://h/old"), "a read waited for the lock");
  flock(fd, LOCK_UN);
  close(fd);
  pthread_join(t, NULL);
  cr_expect(hit(s, "http://h/new"));
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

/* A damaged or missing total is recounted, never trusted. */
Test(hostile_disk, damaged_total_is_recounted) {
  char *dir = make_tmpdir();
  const size_t max = 64u << 10;
  void *s;
  cr_assert(hr_store_disk_new(&s, dir, max, 0) == 0);
  char *d = filler(8000, 5);
  cr_assert_eq(DISK->put(s, "a", d, 8000), 0);
  char path[4096];
  snprintf(path, sizeof(path), "%s/.hrstate", dir);
  /* Says the directory is empty, with a bad checksum. */
  int fd = open(path, O_WRONLY | O_TRUNC);
  cr_assert(fd >= 0);
  unsigned char junk[32] = "HRDT";
  cr_assert_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
  close(fd);
  char key[16];
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "b%d", i);
    cr_assert_eq(DISK->put(s, key, d, 8000), 0);
    cr_assert_leq(dir_bytes(dir, NULL), max);
  }
  cr_expect_eq(hr_store_disk_bytes(s), entry_bytes(dir));
  /* Deleted behind the store's back: recounted too. */
  unlink(path);
  cr_assert_eq(DISK->put(s, "c", d, 8000), 0);
  cr_expect_eq(hr_store_disk_bytes(s), entry_bytes(dir));
  free(d);
  DISK->destroy(s);
  fixture_rm_rf(dir);
  free(dir);
}

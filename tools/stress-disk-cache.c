/* SPDX-License-Identifier: MIT */
/* The audit's disk cache scenario, repeatable: N worker processes fetch
 * checksummed bodies from a loopback server through one disk cache (the
 * public API only), while this process SIGKILLs workers in the middle of
 * their writes, respawns them, and watches the directory's size.
 *
 *   stress-disk-cache --dir DIR --max-bytes N [--procs 8] [--kills 200]
 *                     [--seconds 25] [--keys 48] [--body-min 16384]
 *                     [--body-max 524288] [--expect-no-store]
 *
 * Prints key=value lines (requests, hits, stored, corrupt, kills,
 * kills_found_writing: the worker had a temp file open when the kill was
 * sent, kills_mid_write: that temp file outlived it, peak_bytes,
 * peak_ratio...) and exits 0 when nothing
 * corrupt was served, no request failed and the directory's peak stayed
 * within max_bytes plus one entry; 1 otherwise; 2 on a usage error.
 *
 * Linux only (it reads /proc/PID/fd to find a worker that is writing).
 * Nothing but 127.0.0.1 is ever contacted: the server is the tests'
 * loopback server, and proxies are off. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <httpresp/httpresp.h>

#include "testsrv.h"

#define MAX_PROCS 64

typedef struct opts {
  const char *dir;
  size_t max_bytes;
  int procs, kills, seconds, keys;
  size_t body_min, body_max;
  int expect_no_store; /* read-only or full: stores may fail */
} opts;

/* What a worker tells the driver, as deltas; one write() of less than
 * PIPE_BUF bytes, so a kill never leaves half a record. */
typedef struct rec {
  uint32_t reqs, hits, stored, not_stored, errors, corrupt;
} rec;

static uint64_t rng(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Body of object `i`: "obj=I len=N sum=HEX\n" then N pseudo-random bytes
 * whose FNV-1a is HEX.  Deterministic, so a worker knows exactly what it
 * must get. */
static unsigned char *make_body(const opts *o, int i, size_t *len) {
  uint64_t x = (uint64_t)i * 2654435761u + 1;
  size_t n = o->body_min + (size_t)(rng(&x) % (o->body_max - o->body_min + 1));
  unsigned char *payload = malloc(n);
  if (!payload)
    abort();
  for (size_t k = 0; k < n; k++)
    payload[k] = (unsigned char)rng(&x);
  char head[96];
  int h = snprintf(head, sizeof(head), "obj=%d len=%zu sum=%016llx\n", i, n,
                   (unsigned long long)fnv1a(payload, n));
  unsigned char *b = malloc((size_t)h + n);
  if (!b)
    abort();
  memcpy(b, head, (size_t)h);
  memcpy(b + h, payload, n);
  free(payload);
  *len = (size_t)h + n;
  return b;
}

/* 1 when `got` is object `i`'s body: header, length and checksum. */
static int body_ok(int i, const unsigned char *got, size_t len) {
  char head[96];
  size_t hn = len < sizeof(head) - 1 ? len : sizeof(head) - 1;
  memcpy(head, got, hn);
  head[hn] = '\0';
  char *p = head, *end;
  if (strncmp(p, "obj=", 4) != 0)
    return 0;
  long obj = strtol(p + 4, &end, 10);
  if (end == p + 4 || obj != i || strncmp(end, " len=", 5) != 0)
    return 0;
  p = end + 5;
  unsigned long long n = strtoull(p, &end, 10);
  if (end == p || strncmp(end, " sum=", 5) != 0)
    return 0;
  p = end + 5;
  unsigned long long sum = strtoull(p, &end, 16);
  if (end == p || *end != '\n')
    return 0;
  size_t used = (size_t)(end + 1 - head);
  return used + n == len && fnv1a(got + used, (size_t)n) == sum;
}

/* ---- worker ----------------------------------------------------------- */

static void send_rec(int fd, rec *r) {
  if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
    _exit(4);
  memset(r, 0, sizeof(*r));
}

static void worker(const opts *o, const char *base, int wfd, uint64_t seed) {
  /* The driver must get the CPU to catch writers in the act. */
  if (nice(5) == -1 && errno)
    perror("nice");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  httpresp_cache *cache = NULL;
  httpresp_client *client = NULL;
  CURL *easy = curl_easy_init();
  rec r = {0};
  if (!easy || httpresp_cache_new_disk(&cache, o->dir, o->max_bytes) != 0 ||
      httpresp_client_new(&client) != 0 ||
      httpresp_client_set_cache(client, cache) != 0) {
    r.errors = 1;
    send_rec(wfd, &r);
    _exit(3);
  }
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  char url[256];
  for (uint64_t x = seed | 1;;) {
    int i = (int)(rng(&x) % (uint64_t)o->keys);
    snprintf(url, sizeof(url), "%s/obj/%d", base, i);
    httpresp_request *req = NULL;
    httpresp_response *resp = NULL;
    int rc = httpresp_request_new(&req, "GET", url);
    if (!rc)
      rc = httpresp_perform(client, easy, req, &resp);
    r.reqs++;
    if (rc || httpresp_response_status(resp) != 200) {
      r.errors++;
      fprintf(stderr, "worker %d: %s: %s\n", (int)getpid(), url,
              rc ? httpresp_errname(rc) : "status not 200");
    } else {
      size_t len;
      const char *b = httpresp_response_body(resp, &len);
      if (!body_ok(i, (const unsigned char *)b, len)) {
        r.corrupt++;
        fprintf(
            stderr, "worker %d: CORRUPT body for %s (%zu bytes, %s)\n",
            (int)getpid(), url, len,
            httpresp_cache_status_name(httpresp_response_cache_status(resp)));
      }
      switch (httpresp_response_cache_status(resp)) {
      case HTTPRESP_CACHE_HIT:
      case HTTPRESP_CACHE_REVALIDATED:
        r.hits++;
        break;
      case HTTPRESP_CACHE_STORED:
      case HTTPRESP_CACHE_UPDATED:
        r.stored++;
        break;
      default:
        r.not_stored++;
      }
    }
    httpresp_response_free(resp);
    httpresp_request_free(req);
    if (r.reqs >= 8 || r.corrupt)
      send_rec(wfd, &r);
  }
}

/* ---- driver ----------------------------------------------------------- */

typedef struct dirsize {
  size_t bytes, temps, largest;
} dirsize;

static dirsize measure(const char *dir) {
  dirsize z = {0, 0, 0};
  DIR *d = opendir(dir);
  if (!d)
    return z;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    int temp = strncmp(de->d_name, ".hrtmp-", 7) == 0;
    if (!temp && !(l > 4 && strcmp(de->d_name + l - 4, ".hrc") == 0))
      continue;
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    z.bytes += (size_t)st.st_size;
    z.temps += (size_t)temp;
    if ((size_t)st.st_size > z.largest)
      z.largest = (size_t)st.st_size;
  }
  closedir(d);
  return z;
}

/* The temp file `pid` has open right now (written into `path`), or 0. */
static int writing(pid_t pid, char *path, size_t cap) {
  char fddir[64];
  snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(fddir);
  if (!d)
    return 0;
  int found = 0;
  struct dirent *de;
  while (!found && (de = readdir(d)) != NULL) {
    char lp[sizeof(fddir) + sizeof(de->d_name) + 2];
    snprintf(lp, sizeof(lp), "%s/%s", fddir, de->d_name);
    ssize_t n = readlink(lp, path, cap - 1);
    if (n > 0) {
      path[n] = '\0';
      found = strstr(path, "/.hrtmp-") != NULL;
    }
  }
  closedir(d);
  return found;
}

typedef struct driver {
  const opts *o;
  const char *base;
  int rfd, wfd;
  pid_t pids[MAX_PROCS];
  uint64_t seed;
  rec total;
  dirsize peak;
  int kills, mid_write, found;
} driver;

static void spawn(driver *d, int k) {
  d->seed = d->seed * 6364136223846793005u + 1442695040888963407u;
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0) {
    close(d->rfd);
    alarm((unsigned)d->o->seconds + 30); /* never outlive the run */
    worker(d->o, d->base, d->wfd, d->seed);
    _exit(0);
  }
  d->pids[k] = pid;
}

static void drain(driver *d) {
  rec r;
  while (read(d->rfd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
    d->total.reqs += r.reqs;
    d->total.hits += r.hits;
    d->total.stored += r.stored;
    d->total.not_stored += r.not_stored;
    d->total.errors += r.errors;
    d->total.corrupt += r.corrupt;
  }
}

static void sample(driver *d) {
  dirsize z = measure(d->o->dir);
  if (z.bytes > d->peak.bytes)
    d->peak.bytes = z.bytes;
  if (z.largest > d->peak.largest)
    d->peak.largest = z.largest;
}

/* Waits (up to `wait_ms`) until worker k writes a temp file, kills it
 * there (or wherever it is by then), and starts a new one in its place. */
static void kill_one(driver *d, int k, int64_t wait_ms) {
  char path[4096];
  int64_t t = now_ms(), until = t + wait_ms, next_sample = t + 5;
  int found = 0;
  while (!(found = writing(d->pids[k], path, sizeof(path))) &&
         (t = now_ms()) < until)
    if (t >= next_sample) {
      sample(d);
      next_sample = t + 5;
    }
  kill(d->pids[k], SIGKILL);
  waitpid(d->pids[k], NULL, 0);
  struct stat st;
  d->kills++;
  d->found += found;
  if (found && lstat(path, &st) == 0)
    d->mid_write++; /* its temp file outlived it: killed before the rename */
  sample(d);
  spawn(d, k);
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end)
    return -1;
  *out = (size_t)v;
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: stress-disk-cache --dir DIR --max-bytes N [--procs 8] "
          "[--kills 200] [--seconds 25] [--keys 48] [--body-min 16384] "
          "[--body-max 524288] [--expect-no-store]\n");
  return 2;
}

/* 0, or 2 after printing the usage. */
static int parse_args(int argc, char **argv, opts *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    size_t n;
    if (strcmp(a, "--expect-no-store") == 0) {
      o->expect_no_store = 1;
      continue;
    }
    if (!v)
      return usage();
    i++;
    if (strcmp(a, "--dir") == 0) {
      o->dir = v;
      continue;
    }
    if (parse_size(v, &n) != 0)
      return usage();
    if (strcmp(a, "--max-bytes") == 0 && n >= 1)
      o->max_bytes = n;
    else if (strcmp(a, "--procs") == 0 && n >= 1 && n <= MAX_PROCS)
      o->procs = (int)n;
    else if (strcmp(a, "--kills") == 0 && n <= 100000)
      o->kills = (int)n;
    else if (strcmp(a, "--seconds") == 0 && n >= 1 && n <= 600)
      o->seconds = (int)n;
    else if (strcmp(a, "--keys") == 0 && n >= 1 && n <= 100000)
      o->keys = (int)n;
    else if (strcmp(a, "--body-min") == 0 && n <= (64u << 20))
      o->body_min = n;
    else if (strcmp(a, "--body-max") == 0 && n <= (64u << 20))
      o->body_max = n;
    else
      return usage();
  }
  if (!o->dir || !o->max_bytes || o->body_min > o->body_max)
    return usage();
  return 0;
}

int main(int argc, char **argv) {
  opts o = {NULL, 0, 8, 200, 25, 48, 16384, 524288, 0};
  if (parse_args(argc, argv, &o) != 0)
    return 2;

  ts_server *ts = ts_start(1);
  if (!ts) {
    fprintf(stderr, "cannot start the loopback server\n");
    return 1;
  }
  for (int i = 0; i < o.keys; i++) {
    size_t len;
    unsigned char *b = make_body(&o, i, &len);
    char path[64];
    snprintf(path, sizeof(path), "/obj/%d", i);
    ts_resp *r = ts_route(ts, 0, path);
    /* A third fresh for 2 s (hits), the rest stale at once: every fetch of
     * those is stored again, so writes never stop. */
    ts_resp_printf(r,
                   "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                   "Cache-Control: max-age=%d\r\n\r\n",
                   len, i % 3 == 0 ? 2 : 0);
    ts_resp_body(r, b, len);
    free(b);
  }
  char *base = ts_url(ts, 0, "/");
  base[strlen(base) - 1] = '\0';

  int p[2];
  if (pipe(p) != 0) {
    perror("pipe");
    return 1;
  }
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  driver d = {&o,  base, p[0], p[1], {0}, 0x9e3779b97f4a7c15u,
              {0}, {0},  0,    0,    0};
  for (int k = 0; k < o.procs; k++)
    spawn(&d, k);

  int64_t start = now_ms(), end = start + (int64_t)o.seconds * 1000;
  /* Kills spread over all but the last second. */
  int64_t every = o.kills ? ((int64_t)o.seconds * 1000 - 1000) / o.kills : 0;
  int64_t next_kill = start + 500;
  uint64_t x = 12345;
  while (now_ms() < end) {
    sample(&d);
    drain(&d);
    if (d.kills < o.kills && now_ms() >= next_kill) {
      kill_one(&d, (int)(rng(&x) % (uint64_t)o.procs), every / 2);
      next_kill += every;
    }
    sleep_ms(1);
  }
  for (int k = 0; k < o.procs; k++) {
    kill(d.pids[k], SIGKILL);
    waitpid(d.pids[k], NULL, 0);
  }
  drain(&d);
  dirsize left = measure(o.dir);
  /* Past the writers' grace (2 s), then a scan as any process opening the
   * cache does: what killed writers left must go. */
  sleep_ms(3000);
  httpresp_cache *c = NULL;
  int orc = httpresp_cache_new_disk(&c, o.dir, o.max_bytes);
  httpresp_cache_free(c);
  dirsize after = measure(o.dir);

  size_t slack = d.peak.largest;
  int bound_ok = d.peak.bytes <= o.max_bytes + slack;
  printf("procs=%d kills=%d kills_found_writing=%d kills_mid_write=%d "
         "seconds=%d\n",
         o.procs, d.kills, d.found, d.mid_write, o.seconds);
  printf("requests=%u hits=%u stored=%u not_stored=%u errors=%u corrupt=%u\n",
         d.total.reqs, d.total.hits, d.total.stored, d.total.not_stored,
         d.total.errors, d.total.corrupt);
  printf("max_bytes=%zu peak_bytes=%zu peak_ratio=%.2f largest_file=%zu "
         "bound_ok=%d\n",
         o.max_bytes, d.peak.bytes, (double)d.peak.bytes / (double)o.max_bytes,
         d.peak.largest, bound_ok);
  printf("at_stop_bytes=%zu at_stop_temps=%zu after_scan_bytes=%zu "
         "after_scan_temps=%zu reopen=%s\n",
         left.bytes, left.temps, after.bytes, after.temps,
         orc ? httpresp_errname(orc) : "ok");
  free(base);
  ts_stop(ts);
  int ok = d.total.corrupt == 0 && d.total.errors == 0 && d.total.reqs > 0 &&
           after.temps == 0 && (o.expect_no_store || bound_ok);
  return ok ? 0 : 1;
}
